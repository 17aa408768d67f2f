package agent

// Wake does what a detected sleep or network change does.
func Wake(a *Agent) { a.wake() }
