package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// Write prints the report as a table: per kind of request, the answered
// requests, errors, 429s waited out, completed requests per second over the
// run's wall time, and latency percentiles of single requests (a 429's wait
// is not in them).
func (rep MixedReport) Write(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "onramp bench mixed  target=%s  run=%s  clients=%d  wall=%s\n\n",
		rep.Target, rep.Run, rep.Clients, dur(rep.Wall)); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "request\tn\terrors\t429s\tper second\tp50\tp90\tp99\tmax\t")
	for _, r := range append(rep.Rows, rep.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t", r.Kind, r.N, r.Errors, r.Throttled, rate(r.Rate),
			dur(r.P50), dur(r.P90), dur(r.P99), dur(r.Max))
		if r.Note != "" {
			fmt.Fprintf(tw, "  first error: %s", r.Note)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nerrors: %s\n", strconv.Itoa(rep.Total.Errors))
	return err
}
