// Package compiler turns a parsed recipe into a plan the VM runs.
//
// The pipeline, in order: Lower (AST -> IR, binding every argument to its parameter by the
// method's signature), the pass table (constant folding, CSE, dead-code elimination; see
// passes.go), Check (merge spaces and model configs), then, when model headers are
// available, key sets and shapes (keys.go) and code generation (codegen.go): one register
// program per key class, with explicit FREE after a register's last use.
//
// The compiler never imports the method library: it receives an *ops.Registry. It never reads
// tensor data: only safetensors headers, through a ModelSource.
package compiler
