//! Tests of the expansions' shape and of their error messages.

use quote::quote;

use super::*;

fn text(ts: TokenStream) -> String {
    ts.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn error_of(r: syn::Result<TokenStream>) -> String {
    r.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn cached_keys_on_prefix_and_arguments() {
    let out = text(
        cached(
            quote!(ttl = 600, prefix = "user_data"),
            quote!(
                async fn f(id: u64, name: String) -> String {
                    x()
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_cache :: __private :: function_key (\"user_data\" , & (& id , & name ,))"), "{out}");
    assert!(out.contains(":: perf_cache :: __private :: cached_call :: < String , _ >"), "{out}");
    assert!(out.contains("from_secs (600)"), "{out}");
}

#[test]
fn cached_result_caches_only_ok() {
    let out = text(
        cached(
            quote!(),
            quote!(
                async fn load() -> Result<u8, E> {
                    Ok(1)
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_cache :: __private :: cached_result :: < Result < u8 , E > , _ >"), "{out}");
    assert!(out.contains("function_key (\"load\""), "{out}");
    assert!(out.contains("from_secs (300)"), "{out}");
}

#[test]
fn cached_refuses_sync_fns_methods_and_patterns() {
    assert!(
        error_of(cached(
            quote!(),
            quote!(
                fn f() -> u8 {
                    1
                }
            )
        ))
        .contains("needs an async fn")
    );
    assert!(
        error_of(cached(
            quote!(),
            quote!(
                async fn f(&self) -> u8 {
                    1
                }
            )
        ))
        .contains("self")
    );
    assert!(
        error_of(cached(
            quote!(),
            quote!(
                async fn f((a, b): (u8, u8)) -> u8 {
                    a
                }
            )
        ))
        .contains("identifiers")
    );
    assert!(
        error_of(cached(
            quote!(tll = 3),
            quote!(
                async fn f() -> u8 {
                    1
                }
            )
        ))
        .contains("expected")
    );
}

#[test]
fn invalidate_on_change_picks_the_helper() {
    let out = text(
        invalidate_on_change(
            quote!("users"),
            quote!(
                async fn f() -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains("invalidate_after_ok :: < Result < () , E > , _ > (& [\"users\"] , async move"), "{out}");
    let out = text(
        invalidate_on_change(
            quote!("a", "b"),
            quote!(
                fn f() {
                    g()
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains("invalidate_after_sync :: < () , _ > (& [\"a\" , \"b\"] , || -> ()"), "{out}");
    assert!(
        error_of(invalidate_on_change(
            quote!(),
            quote!(
                fn f() {}
            )
        ))
        .contains("at least one")
    );
}

#[test]
fn monitored_follows_the_perf_db_contract() {
    let out = text(
        monitored(
            quote!(),
            quote!(
                fn report(x: u8) -> u8 {
                    x + 1
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_db :: monitored (\"report\" , || -> u8 { x + 1 })"), "{out}");
    let out = text(
        monitored(
            quote!(name = "nightly"),
            quote!(
                async fn job() -> u8 {
                    1
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_db :: monitored_async (\"nightly\" , async move {"), "{out}");
    assert!(out.ends_with(". await }"), "{out}");
    assert!(
        error_of(monitored(
            quote!(nam = "x"),
            quote!(
                fn f() {}
            )
        ))
        .contains("expected")
    );
}

#[test]
fn cached_leaves_skipped_arguments_out_of_the_key() {
    let out = text(
        cached(
            quote!(skip(pool, log)),
            quote!(
                async fn f(pool: Pool, id: u64, log: Logger) -> String {
                    x()
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_cache :: __private :: function_key (\"f\" , & (& id ,))"), "{out}");
}

#[test]
fn cached_takes_an_explicit_key_expression() {
    let out = text(
        cached(
            quote!(key = (user.id, page)),
            quote!(
                async fn f(db: Db, user: User, page: u32) -> String {
                    x()
                }
            ),
        )
        .unwrap(),
    );
    assert!(out.contains(":: perf_cache :: __private :: function_key (\"f\" , & ((user . id , page)))"), "{out}");
}

#[test]
fn cached_refuses_unknown_skips_and_skip_with_key() {
    let f = || {
        quote!(
            async fn f(id: u64) -> u8 {
                1
            }
        )
    };
    assert!(error_of(cached(quote!(skip(pool)), f())).contains("`pool` is not an argument"));
    assert!(error_of(cached(quote!(skip(id), key = id), f())).contains("not both"));
    assert!(error_of(cached(quote!(skip(a::b)), f())).contains("expected an argument name"));
}
