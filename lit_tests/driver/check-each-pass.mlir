// RUN: optc %s -p graph-canonicalize,graph-dce --check-each-pass 2>&1 | filecheck %s --check-prefix=OK
// RUN: env OPTC_TEST_PASSES=1 not optc %s -p graph-canonicalize,test-perturb-constants,graph-dce --check-each-pass 2>&1 | filecheck %s --check-prefix=BUG
// RUN: env OPTC_TEST_PASSES=1 optc %s -p test-perturb-constants --check-each-pass --check-tolerance 0.05 2>&1 | filecheck %s --check-prefix=LOOSE
// RUN: env OPTC_TEST_PASSES=1 optc %s -p test-perturb-constants | filecheck %s --check-prefix=IR
// RUN: not optc %s -p test-perturb-constants 2>&1 | filecheck %s --check-prefix=HIDDEN
// --check-each-pass runs the IR in the reference interpreter before the pipeline and after
// every pass on the same seeded random inputs: one line per pass with its largest change,
// or an error naming the first pass that changes an output beyond the tolerance.
// test-perturb-constants is a deliberately wrong pass (every float constant 1% off),
// registered only when OPTC_TEST_PASSES=1.

// OK: check: graph-canonicalize: max abs err 0, max rel err 0 (ok)
// OK-NEXT: check: graph-dce: max abs err 0, max rel err 0 (ok)
// OK-NEXT: check: all 2 passes: max abs err 0, max rel err 0 against the input IR (ok)

// BUG-NOT: Traceback
// BUG: check: graph-canonicalize: max abs err 0, max rel err 0 (ok)
// BUG-NEXT: optc: error: pass 'test-perturb-constants' changed output 'output0' by max abs err {{[0-9.e-]+}}, max rel err 0.01 in 4 of 4 elements (tolerance rtol 0.001, atol 0.0001 at fp32; seed 0)
// BUG-NOT: check: graph-dce

// LOOSE: check: test-perturb-constants: max abs err {{[0-9.e-]+}}, max rel err 0.01 (ok)

// The pass scales the float constant and leaves the integer one alone.
// IR: graph.constant dense<[1.515000e+00, -2.020000e+00, 2.525000e-01, 3.030000e+00]> : tensor<4xf32>
// IR: graph.constant dense<[1, 2]> : tensor<2xi64>

// HIDDEN: optc: error: unknown pass or pipeline 'test-perturb-constants'

func.func @main(%x: tensor<4xf32>, %n: tensor<2xi64>) -> (tensor<4xf32>, tensor<2xi64>) {
  %c = graph.constant dense<[1.5, -2.0, 0.25, 3.0]> : tensor<4xf32>
  %y = graph.mul %x, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %i = graph.identity %y : tensor<4xf32>
  %k = graph.constant dense<[1, 2]> : tensor<2xi64>
  %m = graph.add %n, %k : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  func.return %i, %m : tensor<4xf32>, tensor<2xi64>
}
