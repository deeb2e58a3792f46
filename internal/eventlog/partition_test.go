package eventlog

import "testing"

// TestKeyPartitionMatchesKafka checks the murmur2 partitioning against the
// hash values of Kafka's own UtilsTest.testMurmur2, so a partition computed
// here is the one a Java producer picks.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	cases := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for key, hash := range cases {
		for _, n := range []int{1, 3, 12, 97} {
			want := int32(int(hash&0x7fffffff) % n)
			if got := KeyPartition([]byte(key), n); got != want {
				t.Errorf("KeyPartition(%q, %d) = %d, want %d", key, n, got, want)
			}
		}
	}
}
