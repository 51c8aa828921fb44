// Seam's driver for Porcupine, used by bench/checker.py only.
//
// Porcupine comes from a local copy of its source, never from the network:
// bench/checker.py builds with a copy of this file that adds
//   replace github.com/anishathalye/porcupine => $PORCUPINE_SRC
// (go build -modfile), GOPROXY=off and GOFLAGS=-mod=mod. Porcupine needs
// nothing beyond Go's standard library.
module seam.invalid/bench/porcupine

go 1.19

require github.com/anishathalye/porcupine v0.0.0
