package main

func cmdSynth(e *env, args []string) error {
	return usagef("synth: not available yet")
}
