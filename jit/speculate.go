package jit

import (
	"context"
	"encoding/xml"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/russellhaering/gosaml2/types"

	"github.com/onramp-dev/onramp/store"
)

// # Speculation
//
// A sign-in's work after the signature check is mostly its write: on SQLite
// the one writer runs the sign-in's statements (the assertion ID, the
// account, the session, the events) and commits them, a few hundred
// microseconds that every sign-in used to wait for after the 1-2 ms of the
// signature check. When a core is idle (prefetchWorthIt), the ACS now runs
// that write beside the check, from what the response claims, and holds its
// transaction open until the check is over (store.SignIn.Verdict):
//
//  1. The shape check (step 1 of Verify) has passed; the signature check
//     starts. Meanwhile a goroutine of the speculation reads the account the
//     claimed identity is linked to, and the accounts it could be linked
//     to (prefetched); parses the document, unverified, as gosaml2 decodes
//     a verified one, and makes of it the Assertion that Verify would
//     return, with Verify's own checks (Verifier.claim); and runs the
//     Provisioner's decision on that Assertion, exactly as it would on a
//     verified one, up to the store's SignIn, which runs every statement
//     and then waits for the verdict, uncommitted.
//  2. The signature check ends. The verdict is true only if Verify passed
//     and the Assertion it returned is equal, field by field, to the
//     claimed one (Assertion.equal): then the held transaction is exactly
//     the one the sign-in would have written after the check, decided on
//     the same organization, connection, assertion and session, and on
//     reads that SignIn's own checks cover as they cover any read (an
//     account unchanged since read, a userName not taken since). It
//     commits. Otherwise it rolls back and nothing of it was ever visible:
//     uncommitted rows are seen by no other connection, and the response
//     is treated as if there had been no speculation.
//
// The speculation trusts nothing: a response whose signature fails, or one
// whose signed content differs from what its unsigned reading claims (the
// signature-wrapping attacks), gets a false verdict and goes through the
// ordinary refusal path. If the speculation could not be carried out — the
// document does not parse as claimed, the store does not hold sign-ins
// (PostgreSQL, whose writes run in parallel anyway), the writer had other
// writes to make (store.ErrNotHeld), or the decision raced with another
// write — the sign-in is carried out after the check, as without
// speculation, with the account reads of step 1.
//
// A held transaction keeps SQLite's writer for as long as the check lasts,
// so the store holds one only while no other write waits, and gives the
// writer back, rolling the speculation back, the moment one is queued.
// Measured with one browser (BenchmarkACS, five runs on the 2-core CI
// machine), this took a new person's sign-in from 1.55-1.60 times the bare
// validation to 1.35-1.53 (median 1.40), a returning person's from
// 1.47-1.50 to 1.34-1.42 (see "Cost of a sign-in" in doc.go).
//
// A speculation costs CPU on a core that would be idle: an xml.Unmarshal
// of the document and the write's statements, and a write rolled back when
// it is not the sign-in. So the ACS speculates only while at most half the
// cores verify (prefetchWorthIt) and no other sign-in is in flight
// (speculateWorthIt), and stops a speculation that has not begun to write
// when the check ends (SpeculationLate), rather than wait for it.

// speculation is one sign-in carried out from a response's claims while its
// signature is checked (see Speculation above).
type speculation struct {
	pf      *prefetched
	verdict chan bool // buffered: the store reads it, the ACS never waits to send
	cancel  context.CancelFunc

	// phase is where the speculation's goroutine stands. It moves forward
	// with compare-and-swap, so that the ACS can stop it (phaseStopped)
	// anywhere before it writes, without waiting for it.
	phase atomic.Int32
	// claimed and hasClaim are set before phase becomes phaseWriting or
	// phaseEnded.
	claimed  Assertion
	hasClaim bool

	done chan struct{} // closed once out, err and decided are set
	out  Outcome
	err  error
	// decided: the store carried the sign-in out, or refused it, on its own
	// account (any outcome but store.ErrNotHeld): out and err are the
	// sign-in's, if the verdict was true.
	decided bool

	// settled: the verdict was given, or the speculation stopped; outcome
	// says what came of it; read says whether pf holds the reads. Only the
	// ACS's goroutine uses them.
	settled bool
	outcome string
	read    bool
}

// Phases of a speculation.
const (
	phaseQueued   int32 = iota // its goroutine has not started yet
	phaseReading               // reading the accounts (pf)
	phaseClaiming              // reading the document (claim)
	phaseWriting               // deciding, and writing held for the verdict
	phaseEnded                 // ended before writing: no claim
	phaseStopped               // stopped by the ACS before writing
)

// Outcomes of a speculation, as counted by Metrics.Speculation.
const (
	// SpeculationCommitted: the verified assertion was the one claimed, and
	// the speculation's sign-in (or the store's refusal of it) is the
	// sign-in's.
	SpeculationCommitted = "committed"
	// SpeculationNotHeld: the store did not hold the sign-in until the
	// verdict (store.ErrNotHeld: other writes waiting, or a late verdict).
	SpeculationNotHeld = "not_held"
	// SpeculationMismatch: the verified assertion is not the one the
	// unverified document claimed.
	SpeculationMismatch = "mismatch"
	// SpeculationUnclaimed: the unverified document yields no assertion
	// (it fails a check, or its assertion is encrypted).
	SpeculationUnclaimed = "unclaimed"
	// SpeculationRaced: another write changed what the decision was made
	// on; the sign-in reads again and decides again.
	SpeculationRaced = "raced"
	// SpeculationLate: the signature check ended before the speculation
	// got to its write (its goroutine waited for a core, as it may when
	// the machine's other cores sleep or are busy): it is stopped, and
	// the sign-in carried out as without it, with the reads it made.
	SpeculationLate = "late"
	// SpeculationAbandoned: the response was refused, or the sign-in
	// failed before its decision; nothing of the speculation was written.
	SpeculationAbandoned = "abandoned"
)

// speculate starts a speculation: the reads of prefetch for claims, then
// the decision on the Assertion that claim returns, written held for the
// verdict. org, conn, stamped and sess are provision's.
func (p *Provisioner) speculate(ctx context.Context, org store.Org, conn store.Connection, stamped bool, sess *store.Session, claims shapeClaims, claim func() (Assertion, bool)) *speculation {
	ctx, cancel := context.WithCancel(ctx)
	s := &speculation{
		pf:      &prefetched{conn: conn.ID, nameID: claims.NameID, linkedDone: make(chan struct{}), matchDone: make(chan struct{})},
		verdict: make(chan bool, 1),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if !s.phase.CompareAndSwap(phaseQueued, phaseReading) {
			return
		}
		p.fetch(ctx, s.pf, conn, claims)
		if !s.phase.CompareAndSwap(phaseReading, phaseClaiming) {
			return
		}
		s.claimed, s.hasClaim = claim()
		if !s.hasClaim {
			s.phase.CompareAndSwap(phaseClaiming, phaseEnded)
			return
		}
		if !s.phase.CompareAndSwap(phaseClaiming, phaseWriting) {
			return
		}
		h := &hold{verdict: s.verdict}
		s.out, s.err = p.attempt(ctx, org, conn, configRead(org, conn, stamped), s.claimed, sess, s.pf, h)
		s.decided = h.decided
	}()
	return s
}

// stop stops the speculation if it has not begun to write, and reports
// whether it did. Nothing of a stopped speculation is written; its
// goroutine may still be reading, with its context cancelled.
func (s *speculation) stop() bool {
	for {
		st := s.phase.Load()
		if st >= phaseWriting {
			return false
		}
		if s.phase.CompareAndSwap(st, phaseStopped) {
			s.cancel()
			return true
		}
	}
}

// result gives the verdict on verified, the Assertion Verify returned, and
// returns the speculation's outcome if it is the sign-in's: ok is false if
// the sign-in must be carried out again (see Speculation above), then with
// the reads the speculation made, if it made them (reads). Once it
// returns, nothing of the speculation can be written any more, and its
// goroutine does not touch the session.
//
// A speculation that has not started to write when the check ends would
// only make the sign-in wait for it: it is stopped (SpeculationLate). Its
// reads, if under way, are waited for, as the sign-in needs them anyway.
func (s *speculation) result(ctx context.Context, verified Assertion) (out Outcome, err error, ok bool) {
	s.settled = true
	if s.phase.CompareAndSwap(phaseQueued, phaseStopped) {
		s.cancel()
		s.outcome = SpeculationLate
		return Outcome{}, nil, false
	}
	select {
	case <-s.pf.matchDone:
	case <-ctx.Done():
		// Reads under way: the speculation has not begun to write, and
		// stopping it is enough (abandon waits only for one that has).
		s.settled = false
		s.abandon()
		return Outcome{}, nil, false
	}
	s.read = true
	if s.stop() {
		s.outcome = SpeculationLate
		return Outcome{}, nil, false
	}
	if s.phase.Load() == phaseEnded {
		s.outcome = SpeculationUnclaimed
		return Outcome{}, nil, false
	}
	// phaseWriting: the claim is there.
	same := s.claimed.equal(verified)
	s.verdict <- same
	<-s.done
	s.cancel()
	switch {
	case !same:
		s.outcome = SpeculationMismatch
	case !s.decided:
		s.outcome = SpeculationNotHeld
	case retryable(s.err):
		s.outcome = SpeculationRaced
	default:
		s.outcome = SpeculationCommitted
		return s.out, s.err, true
	}
	return Outcome{}, nil, false
}

// reads is what the speculation read, for a sign-in carried out again; nil
// if it read nothing.
func (s *speculation) reads() *prefetched {
	if !s.read {
		return nil
	}
	return s.pf
}

// abandon ends a speculation whose sign-in will not be carried out (its
// response failed verification, or the ACS failed before it decided):
// nothing of it is written, and whatever it still had to do is cancelled.
// It waits for the speculation only if it had begun to write (the verdict
// ends it at once). It does nothing if the verdict was already given, or
// if s is nil, so that the ACS can defer it.
func (s *speculation) abandon() {
	if s == nil || s.settled {
		return
	}
	s.settled, s.outcome = true, SpeculationAbandoned
	if s.stop() {
		return
	}
	s.verdict <- false
	s.cancel()
	<-s.done
}

// hold is how attempt writes a speculation's decision: held for verdict
// (store.SignIn.Verdict). decided records that the store did not answer
// store.ErrNotHeld.
type hold struct {
	verdict <-chan bool
	decided bool
}

// claim parses raw, unverified, into the Assertion that Verify would return
// for it if its signature checked out: the document as gosaml2 decodes a
// verified one (encoding/xml into types.Response), through Verify's checks
// after the signature's (check, checkInResponseTo). ok is false if those
// checks fail or the assertion is encrypted: there is then nothing to
// speculate on. Nothing may trust what it returns.
func (v *Verifier) claim(conn ConnectionConfig, raw []byte, pending []string) (a Assertion, ok bool) {
	var resp types.Response
	if err := xml.Unmarshal(raw, &resp); err != nil || len(resp.EncryptedAssertions) != 0 {
		return Assertion{}, false
	}
	a, err := v.check(conn, &resp)
	if err != nil {
		return Assertion{}, false
	}
	if err := v.checkInResponseTo(conn, &resp, a, pending); err != nil {
		return Assertion{}, false
	}
	a.ReplayUntil = a.NotOnOrAfter.Add(v.skew)
	return a, true
}

// equal says whether a and b say the same in every field.
func (a Assertion) equal(b Assertion) bool {
	return a.ID == b.ID && a.Issuer == b.Issuer && a.NameID == b.NameID && a.NameIDFormat == b.NameIDFormat &&
		a.SessionIndex == b.SessionIndex && a.InResponseTo == b.InResponseTo &&
		a.AuthnInstant.Equal(b.AuthnInstant) && a.IssueInstant.Equal(b.IssueInstant) &&
		a.NotOnOrAfter.Equal(b.NotOnOrAfter) && a.ReplayUntil.Equal(b.ReplayUntil) &&
		maps.EqualFunc(a.Attributes, b.Attributes, slices.Equal[[]string]) &&
		// A nil and an empty map are equal to EqualFunc; Verify never
		// returns nil, and neither does claim.
		(a.Attributes == nil) == (b.Attributes == nil)
}
