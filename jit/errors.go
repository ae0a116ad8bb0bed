package jit

import (
	"errors"
	"net/http"
)

// Reason codes of a *VerifyError. They are stable: the error page shows them,
// the audit log records them and operators search for them, so never rename
// one.
const (
	ReasonTooLarge                = "too_large"                 // the encoded response exceeds the size limit
	ReasonMalformed               = "malformed"                 // not base64, not XML, not a SAML Response, missing elements
	ReasonDoctype                 = "doctype"                   // a DTD (SAML forbids them; entity expansion attacks)
	ReasonXMLComment              = "xml_comment"               // a comment anywhere in the document (NameID truncation attacks)
	ReasonAssertionCount          = "assertion_count"           // not exactly one assertion (signature wrapping, injected assertions)
	ReasonUnsigned                = "unsigned"                  // no signature by the IdP over the assertion
	ReasonSignatureInvalid        = "signature_invalid"         // a signature that does not verify with this connection's IdP certificates
	ReasonDecryptionFailed        = "decryption_failed"         // an encrypted assertion this connection's SP key cannot decrypt
	ReasonStatusNotSuccess        = "status_not_success"        // the IdP answered with an error status
	ReasonIssuerMismatch          = "issuer_mismatch"           // issuer is not the connection's IdP entity ID
	ReasonAudienceMismatch        = "audience_mismatch"         // our entity ID is not in every AudienceRestriction
	ReasonDestinationMismatch     = "destination_mismatch"      // Response Destination missing or not our ACS URL
	ReasonRecipientMismatch       = "recipient_mismatch"        // SubjectConfirmationData Recipient missing or not our ACS URL
	ReasonSubjectConfirmation     = "subject_confirmation"      // no bearer SubjectConfirmation
	ReasonNameIDMissing           = "name_id_missing"           // empty or absent NameID
	ReasonExpired                 = "expired"                   // NotOnOrAfter passed (beyond the clock skew)
	ReasonNotYetValid             = "not_yet_valid"             // NotBefore or IssueInstant in the future (beyond the clock skew)
	ReasonIssueInstantTooOld      = "issue_instant_too_old"     // the assertion was issued too long ago
	ReasonInResponseToUnknown     = "in_response_to_unknown"    // answers a request this browser did not start for this connection
	ReasonInResponseToMismatch    = "in_response_to_mismatch"   // envelope and assertion disagree on InResponseTo
	ReasonIdPInitiatedNotAllowed  = "idp_initiated_not_allowed" // unsolicited response, and the connection does not allow it
	ReasonReplayed                = "replayed"                  // the assertion ID was already used
	ReasonIssuedBeforeRecovery    = "issued_before_recovery"    // issued before the store recovered from a machine restart that may have lost replay records
	ReasonConnectionMisconfigured = "connection_misconfigured"  // the connection itself cannot verify anything (no IdP certificate, bad SP key)
)

// VerifyError is why a SAML response was not trusted. Reason is one of the
// Reason constants; Err carries the detail for the log (never for the page: it
// may quote attacker-controlled values).
type VerifyError struct {
	Reason string
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return "jit: saml response rejected: " + e.Reason
	}
	return "jit: saml response rejected: " + e.Reason + ": " + e.Err.Error()
}

func (e *VerifyError) Unwrap() error { return e.Err }

// HTTPStatus is the status of the error page: 400 for input that is not a
// well-formed SAML response, 500 when the connection cannot verify at all,
// 403 for everything else.
func (e *VerifyError) HTTPStatus() int {
	switch e.Reason {
	case ReasonMalformed, ReasonTooLarge, ReasonDoctype:
		return http.StatusBadRequest
	case ReasonConnectionMisconfigured:
		return http.StatusInternalServerError
	default:
		return http.StatusForbidden
	}
}

// ReasonOf returns the Reason of the *VerifyError in err's chain, or "" if
// there is none.
func ReasonOf(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

func reject(reason string, err error) *VerifyError {
	return &VerifyError{Reason: reason, Err: err}
}
