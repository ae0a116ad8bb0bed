package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// Write prints the report as a table.
func (rep Report) Write(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "onramp bench scim  target=%s  run=%s\n\n", rep.Target, rep.Run); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tusers\tn\terrors\tper second\tp50\tp99\twall\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t",
			r.Name, count(r.Users), count(r.N), errorCount(r), rate(r.Rate), dur(r.P50), dur(r.P99), dur(r.Wall))
		if r.Note != "" {
			fmt.Fprintf(tw, "  %s", r.Note)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func count(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func errorCount(r Row) string {
	if r.N == 0 {
		return "-"
	}
	return strconv.Itoa(r.Errors)
}

func rate(f float64) string {
	if f == 0 {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
