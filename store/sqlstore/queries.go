package sqlstore

// Column lists shared by the queries and the scan functions; keep them in step.
const (
	orgCols = `id, slug, name, jit_email_domains, jit_sso_connections, access_email_domains,
		access_sso_connections, created_at, updated_at`
	connCols = `id, org_id, slug, name, idp_metadata_xml, jit_provisioning, allow_idp_initiated,
		mapping_preset, mapping, sp_cert_pem, sp_key_pem, sp_next_cert_pem, sp_next_key_pem, created_at, updated_at`
	userCols = `u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.given_name,
		u.family_name, u.emails, u.active, u.role, u.custom, u.source, u.connection_id, u.resource,
		u.version, u.created_at, u.updated_at, u.last_sign_in_at, u.deleted_at`
	groupCols = `g.id, g.org_id, g.display_name, g.external_id, g.connection_id, g.resource,
		g.version, g.created_at, g.updated_at`
	identityCols = `connection_id, name_id, org_id, user_id, created_at, last_sign_in_at`
	tokenCols    = `id, org_id, connection_id, kind, hash, description, created_at, revoked_at` //nolint:gosec // G101: column names, not a credential
	sessionCols  = `id_hash, org_id, user_id, created_at, expires_at, last_seen_at`
	eventCols    = `id, org_id, time, actor, action, user_id, group_id, connection_id, rule, detail`
)

// queries holds every static statement, rebound for the dialect once, when the
// store is opened. The SQL itself is portable between SQLite and PostgreSQL; the
// *Locked variants are the reads a write transaction bases its write on, ending in
// the dialect's row-lock clause (see dialect.forUpdate). Queries built at run time
// (filters, audit listing) are rebound as they are built.
type queries struct {
	insertEvent string

	insertOrg, getOrg, getOrgLocked, getOrgBySlug, listOrgs, updateOrg string

	insertConn, getConn, getConnLocked, getConnBySlug, listConns, updateConn, deleteConn string
	deleteConnTokens, deleteConnIdentities, deleteConnAssertions                         string

	insertUser, insertEmail, deleteEmails, getUser, getLiveUser           string
	tombstoneUser, deleteUserSessions, touchUserGroups, deleteUserMembers string
	isLiveUser                                                            string

	insertGroup, getGroup, getGroupLocked, updateGroup, deleteGroup, deleteGroupMembers string
	listMembers, memberIDs, addMember, removeMember, listUserGroups                     string
	groupExists                                                                         string

	insertIdentity, getIdentity, getIdentityLocked, listIdentities, signInIdentity, signInUser, connOrg string

	insertToken, getToken, getTokenLocked, listTokens, revokeToken string

	insertSession, getSession, touchSession, deleteSession, deleteExpiredSessions string

	insertAssertion, purgeAssertions string
}

func newQueries(d *dialect) queries {
	r := d.rebind
	return queries{
		insertEvent: r(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id,
			connection_id, rule, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),

		insertOrg:    r(`INSERT INTO orgs (` + orgCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		getOrg:       r(`SELECT ` + orgCols + ` FROM orgs WHERE id = ?`),
		getOrgLocked: r(`SELECT ` + orgCols + ` FROM orgs WHERE id = ?` + d.forUpdate),
		getOrgBySlug: r(`SELECT ` + orgCols + ` FROM orgs WHERE slug = ?`),
		listOrgs:     r(`SELECT ` + orgCols + ` FROM orgs ORDER BY slug`),
		updateOrg: r(`UPDATE orgs SET slug = ?, name = ?, jit_email_domains = ?, jit_sso_connections = ?,
			access_email_domains = ?, access_sso_connections = ?, updated_at = ? WHERE id = ?`),

		insertConn:    r(`INSERT INTO connections (` + connCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		getConn:       r(`SELECT ` + connCols + ` FROM connections WHERE id = ?`),
		getConnLocked: r(`SELECT ` + connCols + ` FROM connections WHERE id = ?` + d.forUpdate),
		getConnBySlug: r(`SELECT ` + connCols + ` FROM connections WHERE org_id = ? AND slug = ?`),
		listConns:     r(`SELECT ` + connCols + ` FROM connections WHERE org_id = ? ORDER BY slug`),
		updateConn: r(`UPDATE connections SET slug = ?, name = ?, idp_metadata_xml = ?, jit_provisioning = ?,
			allow_idp_initiated = ?, mapping_preset = ?, mapping = ?, sp_cert_pem = ?, sp_key_pem = ?,
			sp_next_cert_pem = ?, sp_next_key_pem = ?, updated_at = ? WHERE id = ?`),
		deleteConn:           r(`DELETE FROM connections WHERE id = ?`),
		deleteConnTokens:     r(`DELETE FROM tokens WHERE connection_id = ?`),
		deleteConnIdentities: r(`DELETE FROM identities WHERE connection_id = ?`),
		deleteConnAssertions: r(`DELETE FROM assertions WHERE connection_id = ?`),

		insertUser: r(`INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name,
			display_name_lower, given_name, family_name, emails, active, role, custom, source, connection_id,
			resource, version, created_at, updated_at, last_sign_in_at, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		insertEmail: r(`INSERT INTO user_emails (user_id, org_id, pos, value_lower, type_lower, "primary")
			VALUES (?, ?, ?, ?, ?, ?)`),
		deleteEmails: r(`DELETE FROM user_emails WHERE user_id = ?`),
		getUser:      r(`SELECT ` + userCols + ` FROM users u WHERE u.org_id = ? AND u.id = ?`),
		getLiveUser: r(`SELECT ` + userCols + ` FROM users u WHERE u.org_id = ? AND u.id = ? AND u.deleted_at IS NULL` +
			d.forUpdate),
		tombstoneUser: r(`UPDATE users SET deleted_at = ?, updated_at = ?, version = version + 1
			WHERE org_id = ? AND id = ? AND deleted_at IS NULL`),
		deleteUserSessions: r(`DELETE FROM sessions WHERE user_id = ?`),
		touchUserGroups: r(`UPDATE groups SET version = version + 1, updated_at = ?
			WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?)`),
		deleteUserMembers: r(`DELETE FROM group_members WHERE user_id = ?`),
		isLiveUser:        r(`SELECT 1 FROM users WHERE org_id = ? AND id = ? AND deleted_at IS NULL` + d.forShare),

		insertGroup: r(`INSERT INTO groups (id, org_id, display_name, display_name_lower, external_id,
			connection_id, resource, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		getGroup:       r(`SELECT ` + groupCols + ` FROM groups g WHERE g.org_id = ? AND g.id = ?`),
		getGroupLocked: r(`SELECT ` + groupCols + ` FROM groups g WHERE g.org_id = ? AND g.id = ?` + d.forUpdate),
		updateGroup: r(`UPDATE groups SET display_name = ?, display_name_lower = ?, external_id = ?,
			connection_id = ?, resource = ?, version = ?, updated_at = ? WHERE id = ?`),
		deleteGroup:        r(`DELETE FROM groups WHERE org_id = ? AND id = ?`),
		deleteGroupMembers: r(`DELETE FROM group_members WHERE group_id = ?`),
		listMembers: r(`SELECT m.user_id, u.display_name, u.user_name FROM group_members m
			JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY m.seq`),
		memberIDs: r(`SELECT user_id FROM group_members WHERE group_id = ? ORDER BY seq`),
		addMember: r(`INSERT INTO group_members (group_id, user_id, org_id) VALUES (?, ?, ?)
			ON CONFLICT (group_id, user_id) DO NOTHING`),
		removeMember: r(`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`),
		listUserGroups: r(`SELECT ` + groupCols + ` FROM group_members m JOIN groups g ON g.id = m.group_id
			WHERE m.user_id = ? AND g.org_id = ? ORDER BY g.seq`),
		groupExists: r(`SELECT 1 FROM groups WHERE org_id = ? AND id = ?`),

		insertIdentity: r(`INSERT INTO identities (` + identityCols + `) VALUES (?, ?, ?, ?, ?, ?)`),
		getIdentity:    r(`SELECT ` + identityCols + ` FROM identities WHERE connection_id = ? AND name_id = ?`),
		getIdentityLocked: r(`SELECT ` + identityCols + ` FROM identities WHERE connection_id = ? AND name_id = ?` +
			d.forUpdate),
		listIdentities: r(`SELECT ` + identityCols + ` FROM identities WHERE org_id = ? AND user_id = ?
			ORDER BY created_at, connection_id, name_id`),
		signInIdentity: r(`UPDATE identities SET last_sign_in_at = ? WHERE connection_id = ? AND name_id = ?`),
		signInUser:     r(`UPDATE users SET last_sign_in_at = ? WHERE id = ?`),
		connOrg:        r(`SELECT org_id FROM connections WHERE id = ?`),

		insertToken:    r(`INSERT INTO tokens (` + tokenCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		getToken:       r(`SELECT ` + tokenCols + ` FROM tokens WHERE id = ?`),
		getTokenLocked: r(`SELECT ` + tokenCols + ` FROM tokens WHERE id = ?` + d.forUpdate),
		listTokens:     r(`SELECT ` + tokenCols + ` FROM tokens WHERE org_id = ? ORDER BY created_at, id`),
		revokeToken:    r(`UPDATE tokens SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL`),

		insertSession: r(`INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?)`),
		getSession:    r(`SELECT ` + sessionCols + ` FROM sessions WHERE id_hash = ?`),
		touchSession:  r(`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`),
		deleteSession: r(`DELETE FROM sessions WHERE id_hash = ?`),
		deleteExpiredSessions: r(`DELETE FROM sessions WHERE id_hash IN
			(SELECT id_hash FROM sessions WHERE expires_at <= ? OR last_seen_at <= ? LIMIT ?)`),

		insertAssertion: r(`INSERT INTO assertions (connection_id, assertion_id, not_on_or_after) VALUES (?, ?, ?)`),
		purgeAssertions: r(`DELETE FROM assertions WHERE (connection_id, assertion_id) IN
			(SELECT connection_id, assertion_id FROM assertions WHERE not_on_or_after <= ? LIMIT ?)`),
	}
}
