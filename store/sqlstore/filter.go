package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/onramp-dev/onramp/store"
)

// errFilter marks a filter this store cannot translate (an unknown field, an
// operator the field does not support, a value of the wrong type).
var errFilter = errors.New("unsupported filter")

// scope is the row a filter is evaluated against: a user or group, or one element
// of a multi-valued attribute (inside store.Element or a Compare on emails.* or
// members.value).
type scope int

const (
	scopeUser scope = iota
	scopeGroup
	scopeEmail
	scopeMember
)

type colKind int

const (
	kindFold     colKind = iota // case-insensitive text: a lower-cased column, compared with lower-cased values
	kindExact                   // case-exact text, NOT NULL
	kindNullable                // case-exact text, NULL when absent
	kindBool
	kindTime // INTEGER microseconds
)

type column struct {
	expr string
	kind colKind
}

// columnOf maps a scope's fields to SQL.
func columnOf(sc scope, f store.Field) (column, bool) {
	var c column
	switch sc {
	case scopeUser:
		switch f {
		case store.FieldID:
			c = column{"u.id", kindExact}
		case store.FieldExternalID:
			c = column{"u.external_id", kindNullable}
		case store.FieldUserName:
			c = column{"u.user_name_lower", kindFold}
		case store.FieldDisplayName:
			c = column{"u.display_name_lower", kindFold}
		case store.FieldActive:
			c = column{"u.active", kindBool}
		case store.FieldCreated:
			c = column{"u.created_at", kindTime}
		case store.FieldLastModified:
			c = column{"u.updated_at", kindTime}
		}
	case scopeGroup:
		switch f {
		case store.FieldID:
			c = column{"g.id", kindExact}
		case store.FieldExternalID:
			c = column{"g.external_id", kindNullable}
		case store.FieldDisplayName:
			c = column{"g.display_name_lower", kindFold}
		case store.FieldCreated:
			c = column{"g.created_at", kindTime}
		case store.FieldLastModified:
			c = column{"g.updated_at", kindTime}
		}
	case scopeEmail:
		switch f {
		case store.FieldEmailValue:
			c = column{"e.value_lower", kindFold}
		case store.FieldEmailType:
			c = column{"e.type_lower", kindFold}
		case store.FieldEmailPrimary:
			c = column{`e."primary"`, kindBool}
		}
	case scopeMember:
		if f == store.FieldMemberValue {
			c = column{"m.user_id", kindExact}
		}
	}
	return c, c.expr != ""
}

// multiValued says how a resource scope reaches the elements of its multi-valued
// attributes: the element scope, and the subquery selecting the owners of
// matching elements (its one parameter is the organization).
//
// The subqueries select the owners' seq (the rowid), not their id: SQLite then
// looks the owners up by (org_id, seq), in the list's order, instead of walking
// the organization's rows and probing the subquery's result.
type multiValued struct {
	attr  string
	elem  scope
	owner string // the outer row's key, compared with IN
	sub   string
}

func multiOf(sc scope) (multiValued, bool) {
	switch sc {
	case scopeUser:
		return multiValued{"emails", scopeEmail, "u.seq",
			"SELECT eu.seq FROM user_emails e JOIN users eu ON eu.id = e.user_id WHERE e.org_id = ?"}, true
	case scopeGroup:
		return multiValued{"members", scopeMember, "g.seq",
			"SELECT mg.seq FROM group_members m JOIN groups mg ON mg.id = m.group_id WHERE m.org_id = ?"}, true
	}
	return multiValued{}, false
}

// whereBuilder accumulates SQL text with '?' placeholders and its arguments.
// Values never become SQL text.
type whereBuilder struct {
	sb   strings.Builder
	args []any
	org  store.OrgID
}

func (b *whereBuilder) sql(s string)        { b.sb.WriteString(s) }
func (b *whereBuilder) arg(s string, v any) { b.sb.WriteString(s); b.args = append(b.args, v) }

// compile writes f as a boolean SQL expression that is never NULL (so that NOT
// works as the filter language means).
func (b *whereBuilder) compile(f store.Filter, sc scope) error {
	switch f := f.(type) {
	case store.Compare:
		return b.compare(f, sc)
	case *store.Compare:
		return b.compare(*f, sc)
	case store.And:
		return b.binary(f.Left, f.Right, " AND ", sc)
	case *store.And:
		return b.binary(f.Left, f.Right, " AND ", sc)
	case store.Or:
		return b.binary(f.Left, f.Right, " OR ", sc)
	case *store.Or:
		return b.binary(f.Left, f.Right, " OR ", sc)
	case store.Not:
		return b.not(f.F, sc)
	case *store.Not:
		return b.not(f.F, sc)
	case store.Element:
		return b.element(f, sc)
	case *store.Element:
		return b.element(*f, sc)
	case nil:
		return fmt.Errorf("%w: empty filter node", errFilter)
	}
	return fmt.Errorf("%w: node %T", errFilter, f)
}

func (b *whereBuilder) binary(l, r store.Filter, op string, sc scope) error {
	b.sql("(")
	if err := b.compile(l, sc); err != nil {
		return err
	}
	b.sql(op)
	if err := b.compile(r, sc); err != nil {
		return err
	}
	b.sql(")")
	return nil
}

func (b *whereBuilder) not(f store.Filter, sc scope) error {
	b.sql("NOT (")
	if err := b.compile(f, sc); err != nil {
		return err
	}
	b.sql(")")
	return nil
}

func (b *whereBuilder) element(e store.Element, sc scope) error {
	mv, ok := multiOf(sc)
	if !ok || !strings.EqualFold(e.Attr, mv.attr) {
		return fmt.Errorf("%w: %s[...] here", errFilter, e.Attr)
	}
	b.arg(mv.owner+" IN ("+mv.sub, string(b.org))
	b.sql(" AND (")
	if err := b.compile(e.F, mv.elem); err != nil {
		return err
	}
	b.sql("))")
	return nil
}

func (b *whereBuilder) compare(c store.Compare, sc scope) error {
	if col, ok := columnOf(sc, c.Field); ok {
		return b.compareColumn(c, col)
	}
	mv, ok := multiOf(sc)
	if !ok {
		return fmt.Errorf("%w: field %q", errFilter, c.Field)
	}
	elemCol, ok := columnOf(mv.elem, c.Field)
	if !ok {
		return fmt.Errorf("%w: field %q", errFilter, c.Field)
	}
	// A multi-valued attribute holds when some element does; ne holds when no
	// element equals the value.
	in := " IN ("
	if c.Op == store.OpNe {
		in = " NOT IN ("
		c.Op = store.OpEq
	}
	b.arg(mv.owner+in+mv.sub, string(b.org))
	b.sql(" AND ")
	if err := b.compareColumn(c, elemCol); err != nil {
		return err
	}
	b.sql(")")
	return nil
}

func (b *whereBuilder) compareColumn(c store.Compare, col column) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s %s: %s", errFilter, c.Field, c.Op, why) }
	switch col.kind {
	case kindFold, kindExact, kindNullable:
		if c.Op == store.OpPresent {
			if col.kind == kindNullable {
				b.sql("(" + col.expr + " IS NOT NULL AND " + col.expr + " <> '')")
			} else {
				b.sql(col.expr + " <> ''")
			}
			return nil
		}
		v, ok := c.Value.(string)
		if !ok {
			return bad(fmt.Sprintf("want a string, got %T", c.Value))
		}
		if col.kind == kindFold {
			v = strings.ToLower(v)
		}
		var cond string
		switch c.Op {
		case store.OpEq:
			cond = " = ?"
		case store.OpNe:
			if col.kind == kindNullable {
				b.arg("("+col.expr+" IS NULL OR "+col.expr+" <> ?)", v)
			} else {
				b.arg(col.expr+" <> ?", v)
			}
			return nil
		case store.OpCo:
			cond, v = ` LIKE ? ESCAPE '\'`, "%"+likeEscape(v)+"%"
		case store.OpSw:
			b.startsWith(col, v)
			return nil
		case store.OpEw:
			cond, v = ` LIKE ? ESCAPE '\'`, "%"+likeEscape(v)
		case store.OpGt:
			cond = " > ?"
		case store.OpGe:
			cond = " >= ?"
		case store.OpLt:
			cond = " < ?"
		case store.OpLe:
			cond = " <= ?"
		default:
			return bad("unknown operator")
		}
		if col.kind == kindNullable {
			b.arg("("+col.expr+" IS NOT NULL AND "+col.expr+cond+")", v)
		} else {
			b.arg(col.expr+cond, v)
		}
		return nil

	case kindBool:
		if c.Op == store.OpPresent {
			b.sql("1 = 1")
			return nil
		}
		v, ok := c.Value.(bool)
		if !ok {
			return bad(fmt.Sprintf("want a bool, got %T", c.Value))
		}
		switch c.Op {
		case store.OpEq:
			b.arg(col.expr+" = ?", v)
		case store.OpNe:
			b.arg(col.expr+" <> ?", v)
		default:
			return bad("not a boolean operator")
		}
		return nil

	case kindTime:
		if c.Op == store.OpPresent {
			b.sql("1 = 1")
			return nil
		}
		t, ok := c.Value.(time.Time)
		if !ok {
			return bad(fmt.Sprintf("want a time.Time, got %T", c.Value))
		}
		// Stored times are whole microseconds. floor and ceil keep every
		// comparison exact for a value with a fraction of a microsecond.
		floor := t.UnixMicro()
		ceil := floor
		exact := t.Equal(time.UnixMicro(floor))
		if !exact {
			ceil++
		}
		switch c.Op {
		case store.OpEq:
			if !exact {
				b.sql("1 = 0")
				return nil
			}
			b.arg(col.expr+" = ?", floor)
		case store.OpNe:
			if !exact {
				b.sql("1 = 1")
				return nil
			}
			b.arg(col.expr+" <> ?", floor)
		case store.OpGt:
			b.arg(col.expr+" > ?", floor)
		case store.OpGe:
			b.arg(col.expr+" >= ?", ceil)
		case store.OpLt:
			b.arg(col.expr+" < ?", ceil)
		case store.OpLe:
			b.arg(col.expr+" <= ?", floor)
		default:
			return bad("not a time operator")
		}
		return nil
	}
	return bad("unknown column kind")
}

// startsWith writes "col starts with v" as the range of strings that start
// with v, with the LIKE that says it exactly beside it: an index on col
// serves the range on both engines, whatever v is bound to (the columns are
// byte-ordered: BINARY on SQLite, COLLATE "C" on PostgreSQL), where a LIKE
// alone is served by one only if the engine plans for the bound value
// (SQLite does not: qpsg.go).
func (b *whereBuilder) startsWith(col column, v string) {
	b.sql("(")
	if col.kind == kindNullable {
		b.sql(col.expr + " IS NOT NULL AND ")
	}
	b.arg(col.expr+" >= ?", v)
	if hi, ok := prefixEnd(v); ok {
		b.arg(" AND "+col.expr+" < ?", hi)
	}
	b.arg(" AND "+col.expr+` LIKE ? ESCAPE '\'`, likeEscape(v)+"%")
	b.sql(")")
}

// prefixEnd returns the least string, in byte order, greater than every
// string that starts with prefix: prefix with its last code point
// incremented (a code point past the last is dropped and the one before it
// incremented instead), still valid UTF-8, so that PostgreSQL accepts it. UTF-8
// orders code points as their numbers and no code point's encoding is a
// prefix of another's, so s starts with prefix exactly when
// prefix <= s < prefixEnd(prefix). ok is false when no string bounds them
// (prefix empty, or made of U+10FFFF only).
func prefixEnd(prefix string) (end string, ok bool) {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-size]
		switch {
		case r == utf8.RuneError && size == 1:
			// Not UTF-8 (a store value never is): stay exact with the LIKE alone.
			return "", false
		case r >= unicode.MaxRune:
			continue
		case r == 0xD7FF:
			r = 0xE000 // past the surrogates, which UTF-8 cannot encode
		default:
			r++
		}
		return prefix + string(r), true
	}
	return "", false
}

// likeEscape escapes LIKE's wildcards (with ESCAPE '\'), so that the value is
// matched literally.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '\\' || r == '%' || r == '_' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// listQuery is a filtered list: the WHERE clause (with its arguments) shared by
// the count and the page query.
type listQuery struct {
	where string
	args  []any
}

// userWhere builds the WHERE clause of a user list.
func userWhere(org store.OrgID, q store.UserQuery) (listQuery, error) {
	b := &whereBuilder{org: org}
	b.arg("u.org_id = ?", string(org))
	if !q.IncludeDeleted {
		b.sql(" AND u.deleted_at IS NULL")
	}
	if q.Filter != nil {
		b.sql(" AND ")
		if err := b.compile(q.Filter, scopeUser); err != nil {
			return listQuery{}, err
		}
	}
	return listQuery{where: b.sb.String(), args: b.args}, nil
}

// groupWhere builds the WHERE clause of a group list.
func groupWhere(org store.OrgID, q store.GroupQuery) (listQuery, error) {
	b := &whereBuilder{org: org}
	b.arg("g.org_id = ?", string(org))
	if q.Filter != nil {
		b.sql(" AND ")
		if err := b.compile(q.Filter, scopeGroup); err != nil {
			return listQuery{}, err
		}
	}
	return listQuery{where: b.sb.String(), args: b.args}, nil
}

// page turns StartIndex and Count into OFFSET and LIMIT.
func page(startIndex, count int) (offset, limit int) {
	if startIndex < 1 {
		startIndex = 1
	}
	return startIndex - 1, min(max(count, 0), store.MaxPageSize)
}
