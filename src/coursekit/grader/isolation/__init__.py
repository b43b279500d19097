"""Where student code runs: warm kernels forked from a zygote (`kernels`) and the sandbox
each kernel enters (`policy` says what it may do, `sandbox` applies it)."""
