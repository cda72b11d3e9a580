package stdlib

// Era definitions whose signatures are known but whose kernels are not written yet. Without
// them an era recipe would silently run today's math under the old name; with them, check
// and explain work and a run stops with the reason. (None at the moment: the TIES family of
// the 0.0.x and 1.0.x eras is in ties_eras.go.)
