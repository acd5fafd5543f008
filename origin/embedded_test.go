package origin_test

// extraBackends lists catalog backends beyond Postgres (the embedded one, when built in).
func extraBackends() []backend { return nil }
