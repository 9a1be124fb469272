// Package simulator is an in-memory simulator of the Kubiya control plane's
// jobs API, faithful to ../shared/kubiya-api/ (status codes, FastAPI error
// bodies, timestamp format, quirks). Tests use it in-process through
// httptest; cmd/kubiya-simulator serves it standalone for the demo and for
// end-to-end tests.
//
// # API endpoints
//
//	GET /api/health                         no auth
//	GET /api/v1/jobs?enabled=&trigger_type= bare array, newest first
//	GET /api/v1/jobs/{job_id}               JobResponse or 404 {"detail":"Job <id> not found"}
//	GET /api/v1/jobs/{job_id}/executions?limit=50&offset=0
//
// Auth is "Authorization: Bearer <key>" or "UserKey <key>". Other methods get
// 405 {"detail":"Method Not Allowed"}, unknown paths 404 {"detail":"Not Found"}.
// The job ID is taken from the escaped path and unescaped, so an ID that
// contains '/' or '?' is looked up as such (and not found).
//
// # Time
//
// Cron jobs run on their schedules as the clock (Options.Now plus Advance)
// moves; runs are processed lazily on each request. Runs fire in
// cron_timezone, but next_execution_at is computed from cron_schedule in UTC
// and is not cleared when a job is disabled, as the real server does. Each
// run appears 1–5 s after its fire time, takes a few seconds (it is
// "running" meanwhile, so total - successful - failed counts runs in flight)
// and fails with the job's FailureRate, deterministically from Options.Seed.
//
// # Admin API (no auth; a test tool)
//
//	GET    /_simulator/stats                      {"requests":{kind:n},"job_requests":{id:n},"now":…}
//	POST   /_simulator/reset-counters             (also DELETE /_simulator/stats)
//	GET    /_simulator/jobs                       job IDs, newest first
//	POST   /_simulator/jobs                       upsert a job (JobResponse JSON, plus optional "failure_rate")
//	GET    /_simulator/jobs/{id}                  the job as the API shows it
//	DELETE /_simulator/jobs/{id}                  delete (API answers 404 afterwards)
//	POST   /_simulator/jobs/{id}/failing?value=true   every future run fails
//	POST   /_simulator/jobs/{id}/stop             stops running, stays enabled (missed runs)
//	POST   /_simulator/jobs/{id}/resume
//	POST   /_simulator/jobs/{id}/enabled?value=false
//	POST   /_simulator/jobs/{id}/status?value=failed
//	POST   /_simulator/jobs/{id}/recreate         same ID, counts reset to 0
//	POST   /_simulator/jobs/{id}/trigger          a manual run now → {"execution_id":…}
//	POST   /_simulator/faults                     JSON faultSpec, see below
//	DELETE /_simulator/faults[?job_id=<id>]       all faults, or one job's ("" = the global one)
//	POST   /_simulator/reject-key?value=true      401 "Invalid or expired authentication token"
//	POST   /_simulator/api-key                    body: the new key
//	POST   /_simulator/latency?value=50ms         added to every /api/v1 request
//	POST   /_simulator/advance?by=1h              move the clock forward
//
// Fault JSON (empty job_id means every /api/v1 request; all fields optional):
//
//	{"job_id":"job_…","status":502,"html":true,"body":"…","content_type":"…",
//	 "retry_after":"5","latency":"2s","hang":true,"truncate":true,
//	 "trickle_bytes_per_second":10,"reset_mid_body":true,"oversize":10485760}
//
// Successful admin calls answer 204 (or JSON); errors answer 400/404 with
// {"error":"…"}.
package simulator
