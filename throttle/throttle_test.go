package throttle

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRateRefusesPastTheBurstAndRefills(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Rate: 2, Burst: 3, Now: c.now})
	for i := range 3 {
		release, _, _, ok := l.Acquire("a")
		if !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
		release()
	}
	_, retry, inFlight, ok := l.Acquire("a")
	if ok || inFlight || retry != time.Second {
		t.Fatalf("4th request: ok %v inFlight %v retry %v, want refused for rate, retry 1s", ok, inFlight, retry)
	}
	// Another key has its own bucket.
	if _, _, _, ok := l.Acquire("b"); !ok {
		t.Fatal("another key was refused")
	}
	c.t = c.t.Add(500 * time.Millisecond) // one token back at 2/s
	if _, _, _, ok := l.Acquire("a"); !ok {
		t.Fatal("refused after a token came back")
	}
	if _, _, _, ok := l.Acquire("a"); ok {
		t.Fatal("admitted with an empty bucket")
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Rate: 0.2, Burst: 1, Now: c.now}) // one per 5 s
	if _, _, _, ok := l.Acquire("a"); !ok {
		t.Fatal("first request refused")
	}
	c.t = c.t.Add(1500 * time.Millisecond)
	_, retry, _, ok := l.Acquire("a")
	if ok || retry != 4*time.Second {
		t.Fatalf("ok %v retry %v, want refused with 4s (3.5 s rounded up)", ok, retry)
	}
	if got := Seconds(retry); got != "4" {
		t.Errorf("Seconds = %q", got)
	}
}

func TestInFlight(t *testing.T) {
	l := New(Config{MaxInFlight: 2})
	r1, _, _, ok1 := l.Acquire("tok")
	_, _, _, ok2 := l.Acquire("tok")
	_, retry, inFlight, ok3 := l.Acquire("tok")
	if !ok1 || !ok2 || ok3 || !inFlight || retry != time.Second {
		t.Fatalf("got %v %v %v (inFlight %v, retry %v), want two admitted and the third refused for in-flight with 1s", ok1, ok2, ok3, inFlight, retry)
	}
	if _, _, _, ok := l.Acquire("other"); !ok {
		t.Fatal("another key was refused")
	}
	r1()
	r1() // releasing twice frees one slot only
	if _, _, _, ok := l.Acquire("tok"); !ok {
		t.Fatal("refused after a release")
	}
	if _, _, _, ok := l.Acquire("tok"); ok {
		t.Fatal("a double release freed two slots")
	}
}

func TestDisabledAdmitsEverything(t *testing.T) {
	var nilLimiter *Limiter
	for _, l := range []*Limiter{nilLimiter, New(Config{})} {
		for range 100 {
			if _, _, _, ok := l.Acquire("a"); !ok {
				t.Fatal("a disabled limiter refused")
			}
		}
	}
}

func TestIdleKeysAreForgotten(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Rate: 10, Burst: 1, MaxInFlight: 4, Now: c.now})
	held, _, _, _ := l.Acquire("busy") // stays in flight
	for i := range 5 * minSweep {
		release, _, _, ok := l.Acquire(fmt.Sprint("client-", i))
		if !ok {
			t.Fatal("a new key was refused")
		}
		release()
		c.t = c.t.Add(time.Second) // every earlier bucket is full again
	}
	l.mu.Lock()
	n := len(l.keys)
	_, busy := l.keys["busy"]
	l.mu.Unlock()
	if n > 2*minSweep {
		t.Errorf("%d keys kept, want at most %d", n, 2*minSweep)
	}
	if !busy {
		t.Error("a key with a request in flight was forgotten")
	}
	held()
}
