package collector

import "hash/fnv"

// Sharding, as kube-state-metrics does it: replica k of N reports exactly
// the jobs whose ID hashes to k. The hash is FNV-1a 64 of the job ID's
// bytes, modulo N. It depends only on the ID (not on the order, the count
// or the discovery of jobs), so a job stays on its shard across restarts,
// reloads and organization changes, and N replicas with shards 0..N-1
// together report every job exactly once. Changing N moves about
// (N-1)/N of the jobs, like any modulo scheme.

// ShardOf returns the shard (0 <= shard < total) that owns job id. total
// below 2 means no sharding: every job is on shard 0.
func ShardOf(id string, total int) int {
	if total < 2 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(total))
}

// Shard says which part of the jobs this exporter reports.
type Shard struct {
	Index int // 0-based
	Total int // 1 (or 0) for no sharding
}

// Owns reports whether job id belongs to this shard.
func (s Shard) Owns(id string) bool {
	return s.Total < 2 || ShardOf(id, s.Total) == s.Index
}
