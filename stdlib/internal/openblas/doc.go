// Package openblas calls OpenBLAS's LAPACK (dgesdd) through cgo, for the optional
// `mechac_openblas` build of package stdlib (svd_openblas.go). It is a package of its own
// because Go does not allow cgo in a package with Go assembly, which stdlib has. Without the
// build tag it is empty.
package openblas
