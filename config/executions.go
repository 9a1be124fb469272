package config

import "fmt"

// Limits of executions.limit: the API accepts 1 to 1000 (FastAPI Query(ge=1, le=1000)).
const (
	DefaultExecutionsLimit = 20
	MaxExecutionsLimit     = 1000
)

// Executions configures the opt-in executions collector, which reads
// GET /api/v1/jobs/{id}/executions for the outcome of each job's runs.
type Executions struct {
	Enabled bool `yaml:"enabled"`
	// Limit is how many of the newest executions are read per job: the
	// window for the last success and failure and the in-progress count.
	Limit int `yaml:"limit"`
}

// UnmarshalYAML applies the defaults of the keys left out.
func (e *Executions) UnmarshalYAML(unmarshal func(any) error) error {
	*e = Executions{Limit: DefaultExecutionsLimit}
	type plain Executions
	return keyed("executions", unmarshal, (*plain)(e), new(plain))
}

func (e *Executions) validate() error {
	if e == nil {
		return nil
	}
	if e.Limit < 1 || e.Limit > MaxExecutionsLimit {
		return fmt.Errorf("executions.limit %d: must be between 1 and %d", e.Limit, MaxExecutionsLimit)
	}
	return nil
}
