package sqlstore

import (
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// TestEnoughActive: enoughActive is the least number of active users at which
// the limit allows one more de-provisioning, checked against Allowed itself.
func TestEnoughActive(t *testing.T) {
	for _, l := range []store.DeprovisionLimit{
		{Share: 0.10, Minimum: 20, Window: time.Hour},
		{Share: 0.3, Minimum: 0, Window: time.Hour},
		{Share: 1, Minimum: 5, Window: time.Hour},
		{Share: 2.5, Minimum: 1, Window: time.Hour},
		{Share: 0.0001, Minimum: 3, Window: time.Hour},
	} {
		for _, n := range []int{0, 1, 3, 19, 20, 21, 99, 100, 101, 2000, 123457} {
			a := enoughActive(l, n)
			if l.Allowed(a+n) <= n {
				t.Errorf("%+v, n=%d: enoughActive = %d, but Allowed(%d) = %d", l, n, a, a+n, l.Allowed(a+n))
			}
			if a > 0 && l.Allowed(a-1+n) > n {
				t.Errorf("%+v, n=%d: enoughActive = %d, but %d already allows: Allowed(%d) = %d", l, n, a, a-1, a-1+n, l.Allowed(a-1+n))
			}
		}
	}
}
