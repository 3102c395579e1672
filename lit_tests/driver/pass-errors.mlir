// RUN: not optc %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not optc %s -p 'graph-dce{aggressive=true}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not optc %s -p 'graph-dce{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// A pipeline that cannot be built is one line naming what is wrong, before any pass runs.

// UNKNOWN-NOT: Traceback
// UNKNOWN: optc: error: unknown pass or pipeline 'no-such-pass' (known: {{.*}}default{{.*}}graph-dce{{.*}})
// OPTION-NOT: Traceback
// OPTION: optc: error: pass 'graph-dce': Provided arguments ["aggressive"] not found in expected arguments []
// SYNTAX-NOT: Traceback
// SYNTAX: optc: error: cannot parse pipeline 'graph-dce{' at column 11: Expected argument name here
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  func.return %x : tensor<4xf32>
}
