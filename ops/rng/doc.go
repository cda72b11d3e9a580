// Package rng reproduces the random number generators sd-mecha 1.1.5's merge methods draw
// from, bit for bit, so that mechac's random masks are the reference's masks:
//
//   - Torch: torch 1.13's CPU generator (at::CPUGeneratorImpl), an MT19937 engine seeded with
//     init_genrand(seed & 0xffffffff) (torch.Generator.manual_seed), with torch's bernoulli
//     (uniform from one or two 32-bit words) and randn (16-block Box-Muller) samplers.
//   - NumPy: numpy 1.24's default_rng(seed): a PCG64 (XSL-RR 128/64) bit generator seeded by
//     SeedSequence, with Generator.random and Generator.binomial's inversion sampler.
//
// The package imports the standard library only.
package rng
