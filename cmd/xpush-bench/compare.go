package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// figure is one number of a result, with the direction that is better.
type figure struct {
	name         string
	unit         string
	value        float64
	higherBetter bool
	// other is the share of the machine that neither the server nor the
	// tool used while the figure was measured: noise from elsewhere.
	other float64
}

// figures lists the comparable numbers of r; missing phases give none.
func figures(r *Result) []figure {
	var f []figure
	other := 0.0
	add := func(name, unit string, v float64, higher bool) {
		f = append(f, figure{name, unit, v, higher, other})
	}
	if a := r.Accounts; a != nil && a.Registered > 0 {
		other = a.CPU.OtherShare
		add("accounts/s", "1/s", a.PerSec, true)
	}
	if l := r.Logins; l != nil && l.OK > 0 {
		other = l.CPU.OtherShare
		add("logins/s", "1/s", l.PerSec, true)
		add("login p99", "ms", l.Each.P99, false)
		if l.CPU.Server > 0 {
			add("server CPU per login", "ms", 1000*l.CPU.Server/float64(l.OK), false)
		}
	}
	if i := r.Idle; i != nil && i.RSSAfterKiB > 0 {
		other = 0
		add("RSS per idle session", "KiB", i.RSSPerSessionKiB, false)
		add("server CPU while idle", "s", i.ServerCPU, false)
	}
	if l := r.Latency; l != nil && l.Push.N > 0 {
		other = l.CPU.OtherShare
		add("push p50", "ms", l.Push.P50, false)
		add("push p90", "ms", l.Push.P90, false)
		add("push p99", "ms", l.Push.P99, false)
		add("push max", "ms", l.Push.Max, false)
		if l.Ack != nil && l.Ack.N > 0 {
			add("push-to-ack p50", "ms", l.Ack.P50, false)
			add("push-to-ack p99", "ms", l.Ack.P99, false)
			add("push-to-ack max", "ms", l.Ack.Max, false)
		}
	}
	if b := r.Broadcast; b != nil && b.DeliveriesPerSec > 0 {
		for _, rd := range b.Rounds {
			other = max(other, rd.CPU.OtherShare)
		}
		add("broadcast deliveries/s", "1/s", b.DeliveriesPerSec, true)
	}
	return f
}

// verdict says whether going from old to new is better, worse or the
// same for a figure.
func verdict(old, new float64, higherBetter bool) (ratio float64, word string) {
	switch {
	case old == new:
		return 1, "same"
	case old == 0:
		ratio = math.Inf(1)
	default:
		ratio = new / old
	}
	if (new > old) == higherBetter {
		return ratio, "better"
	}
	return ratio, "worse"
}

func compareCmd(args []string, w io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("%w: compare takes two result files: OLD.json NEW.json", errUsage)
	}
	old, err := readResult(args[0])
	if err != nil {
		return err
	}
	new, err := readResult(args[1])
	if err != nil {
		return err
	}
	compare(w, old, new)
	return nil
}

// compare prints each figure both results have, with new/old.
func compare(w io.Writer, old, new *Result) {
	fmt.Fprintf(w, "old: %s %s, %d sessions, %s\n", old.Server.Kind, old.Server.Version, old.Online, old.Date.Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "new: %s %s, %d sessions, %s\n", new.Server.Kind, new.Server.Version, new.Online, new.Date.Format("2006-01-02 15:04"))
	oldF := map[string]figure{}
	for _, f := range figures(old) {
		oldF[f.name] = f
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tbetter\told\tnew\tnew/old\tverdict\t")
	for _, nf := range figures(new) {
		of, ok := oldF[nf.name]
		if !ok {
			continue
		}
		ratio, word := verdict(of.value, nf.value, nf.higherBetter)
		dir := "lower"
		if nf.higherBetter {
			dir = "higher"
		}
		note := ""
		if noise := max(of.other, nf.other); noise >= noisy {
			note = fmt.Sprintf("noisy: other processes used %.0f%% of the machine", 100*noise)
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%10.4g\t%10.4g\t%8.3f\t%s\t%s\n", nf.name, nf.unit, dir, of.value, nf.value, ratio, word, note)
	}
	tw.Flush()
}

// noisy is the share of the machine used by other processes from which
// compare flags a figure.
const noisy = 0.15
