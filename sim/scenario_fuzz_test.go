package sim

import "testing"

// FuzzParseScenario feeds the scenario loader arbitrary YAML: it must not panic, and a scenario it accepts is
// inside the bounds one machine simulates.
func FuzzParseScenario(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > MaxScenarioBytes {
			return // LoadScenario refuses it before parsing
		}
		sc, err := ParseScenario(b)
		if err != nil {
			return
		}
		tp, c := sc.Topology, sc.Content
		switch {
		case tp.Stores < 1 || tp.Stores > maxStores || tp.Nodes < 1 || tp.Nodes > maxNodes ||
			tp.Zones < 1 || tp.Zones > tp.Nodes:
			t.Fatalf("accepted topology %+v", tp)
		case sc.Chaos <= 0 || sc.Heal < 0 || sc.Chaos+sc.Heal > maxRun || sc.ConvergeWithin <= 0:
			t.Fatalf("accepted phases chaos %v heal %v converge %v", sc.Chaos, sc.Heal, sc.ConvergeWithin)
		case c.Music < 1 || c.Music+c.Spots+c.Emergency > maxAssets || c.Spots < 0 || c.Emergency < 0 ||
			c.Music > maxAssets || c.SizeKB < 1 || c.SizeKB > maxSizeKB:
			t.Fatalf("accepted content %+v", c)
		case !(tp.Uplink.Mbps > 0 && tp.LAN.Mbps > 0 && tp.Uplink.Loss >= 0 && tp.Uplink.Loss < 1 &&
			tp.LAN.Loss >= 0 && tp.LAN.Loss < 1 && tp.Uplink.Latency >= 0 && tp.LAN.Latency >= 0):
			t.Fatalf("accepted links %+v %+v", tp.Uplink, tp.LAN)
		case sc.Swarm.Faults < 0 || sc.Swarm.Faults > 100_000:
			t.Fatalf("accepted swarm %+v", sc.Swarm)
		}
		for i, st := range sc.Timeline {
			if st.At < 0 || st.At > sc.Chaos || st.Store < 0 || st.Store >= tp.Stores || st.Node < 0 || st.Node >= tp.Nodes {
				t.Fatalf("accepted timeline[%d] %+v", i, st)
			}
		}
	})
}
