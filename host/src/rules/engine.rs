//! The one hardened Rhai engine every rule script runs in.

use rhai::{Engine, OptimizationLevel, module_resolvers::DummyModuleResolver};

/// Operations one script may run per evaluation. About 4 ms of CPU here;
/// a rule needs a few hundred, so this only stops runaway loops.
pub const MAX_OPERATIONS: u64 = 100_000;
/// Function call depth: rules are flat; deep recursion is a bug.
pub const MAX_CALL_LEVELS: usize = 32;
/// Expression nesting (global, inside functions).
pub const MAX_EXPR_DEPTHS: (usize, usize) = (64, 32);
/// Largest string a script may build: enough for any alert message.
pub const MAX_STRING_SIZE: usize = 64 * 1024;
/// Largest array or map a script may build.
pub const MAX_COLLECTION_SIZE: usize = 10_000;
/// Variables alive at once in one script.
pub const MAX_VARIABLES: usize = 1_000;
/// Functions one script may define.
pub const MAX_FUNCTIONS: usize = 256;

/// An engine with every limit set, strict variables (a typo is a compile
/// error, not a silent `()`), no `eval` and no module loading.
pub fn hardened_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTHS.0, MAX_EXPR_DEPTHS.1)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_COLLECTION_SIZE)
        .set_max_map_size(MAX_COLLECTION_SIZE)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(MAX_FUNCTIONS)
        .set_max_modules(0)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_optimization_level(OptimizationLevel::Simple)
        .set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.on_print(|text| tracing::info!(target: "perfwatch::rule", "{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!(target: "perfwatch::rule", source = source.unwrap_or(""), %pos, "{text}");
    });
    engine
}
