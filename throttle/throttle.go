package throttle

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// minSweep is the table size at which idle keys are first swept.
const minSweep = 1024

// Config configures a Limiter. A zero Rate means no rate limit, a zero
// MaxInFlight no limit on requests in flight.
type Config struct {
	// Rate is the sustained number of requests per second one key may make,
	// and Burst how many it may make at once after a quiet spell (at least 1
	// when Rate is set; 0 means 2×Rate, rounded up).
	Rate  float64
	Burst int
	// MaxInFlight is how many requests of one key may be served at once.
	MaxInFlight int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter admits or refuses requests per key. It is safe for concurrent use.
type Limiter struct {
	limit       rate.Limit
	burst       int
	maxInFlight int
	now         func() time.Time

	mu      sync.Mutex
	keys    map[string]*entry
	sweepAt int
}

type entry struct {
	bucket   *rate.Limiter // nil without a rate limit
	inFlight int
}

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	l := &Limiter{maxInFlight: max(cfg.MaxInFlight, 0), now: cfg.Now, keys: map[string]*entry{}, sweepAt: minSweep}
	if cfg.Rate > 0 {
		l.limit = rate.Limit(cfg.Rate)
		l.burst = cfg.Burst
		if l.burst <= 0 {
			l.burst = max(1, int(math.Ceil(2*cfg.Rate)))
		}
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Enabled reports whether the Limiter limits anything.
func (l *Limiter) Enabled() bool { return l != nil && (l.limit > 0 || l.maxInFlight > 0) }

// Acquire admits one request of key: ok, with release to call once it has
// been served. Refused, retryAfter says when to try again (whole seconds, at
// least one: what Retry-After carries), and inFlight whether the refusal is
// for too many requests in flight rather than too high a rate. A nil or
// disabled Limiter admits everything.
func (l *Limiter) Acquire(key string) (release func(), retryAfter time.Duration, inFlight, ok bool) {
	if !l.Enabled() {
		return func() {}, 0, false, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		l.sweep(now)
		e = &entry{}
		if l.limit > 0 {
			e.bucket = rate.NewLimiter(l.limit, l.burst)
		}
		l.keys[key] = e
	}
	if l.maxInFlight > 0 && e.inFlight >= l.maxInFlight {
		return nil, time.Second, true, false
	}
	if e.bucket != nil {
		r := e.bucket.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			return nil, wholeSeconds(d), false, false
		}
	}
	e.inFlight++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			e.inFlight--
			l.mu.Unlock()
		})
	}, 0, false, true
}

// sweep forgets idle keys once the table has grown to sweepAt, and sets the
// next sweep at twice what is left. Called with mu held.
func (l *Limiter) sweep(now time.Time) {
	if len(l.keys) < l.sweepAt {
		return
	}
	for k, e := range l.keys {
		if e.inFlight == 0 && (e.bucket == nil || e.bucket.TokensAt(now) >= float64(l.burst)) {
			delete(l.keys, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.keys))
}

// wholeSeconds rounds d up to whole seconds, at least one.
func wholeSeconds(d time.Duration) time.Duration {
	return max(time.Second, time.Duration(math.Ceil(d.Seconds()))*time.Second)
}

// Seconds formats d as the value of a Retry-After header.
func Seconds(d time.Duration) string {
	return strconv.FormatInt(int64(wholeSeconds(d)/time.Second), 10)
}
