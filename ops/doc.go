// Package ops is the contract between merge methods and the rest of mechac.
//
// A merge method is a Def: its signature (positional-or-keyword parameters, varargs,
// keyword-only parameters, defaults), the merge spaces it accepts and returns, its traits
// (elementwise, whole-tensor, linear algebra, random), how it decides which keys exist, and a
// Kernel that computes one output tensor from float64 inputs. Model configs (the key lists of
// sdxl-sgm, sd1-ldm, ...) are data of the same registry, so the compiler and the VM receive
// everything they need about methods and models through one *Registry and never import the
// method library (package stdlib) themselves.
//
// This package imports only the standard library.
package ops
