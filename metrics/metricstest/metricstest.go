// Package metricstest scrapes a running server's /metrics for tests: it
// fetches the page over HTTP, parses the Prometheus text format and looks
// series up by name and labels.
package metricstest

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape: the metric families by name.
type Families map[string]*dto.MetricFamily

// Scrape fetches url (a /metrics endpoint) and parses it; any failure fails
// the test.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d: %s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: content type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape %s: parse: %v\n%s", url, err, body)
	}
	return fams
}

// Value returns the value of the series of family name whose labels include
// every pair in labels (name, value, name, value, …): a counter's or gauge's
// value, a histogram's sample count. The series must be the only one that
// matches; ok is false if there is none.
func (f Families) Value(t testing.TB, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("metricstest: odd label list %q", labels)
	}
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	var found []*dto.Metric
	for _, m := range fam.GetMetric() {
		if hasLabels(m, labels) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("metricstest: %s%q matches %d series; name more labels", name, labels, len(found))
	}
	m := found[0]
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue(), true
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue(), true
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount()), true
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue(), true
	}
	t.Fatalf("metricstest: %s has a type this helper does not read", name)
	return 0, false
}

// LabelValues returns the distinct values label takes in family name, sorted.
func (f Families) LabelValues(name, label string) []string {
	var out []string
	for _, m := range f[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && !slices.Contains(out, lp.GetValue()) {
				out = append(out, lp.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool {
			return lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}) {
			return false
		}
	}
	return true
}
