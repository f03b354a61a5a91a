//! The expansions, on `proc_macro2` tokens so they can be unit tested.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{
    Expr, FnArg, Ident, ItemFn, LitStr, Pat, ReturnType, Token, Type, parse::Parser, punctuated::Punctuated,
    spanned::Spanned,
};

/// `#[cached(ttl = .., prefix = "..", skip(a, b), key = <expr>)]`.
pub(crate) fn cached(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut ttl: Option<Expr> = None;
    let mut prefix: Option<LitStr> = None;
    let mut skip: Vec<Ident> = Vec::new();
    let mut key: Option<Expr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("ttl") {
            ttl = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("prefix") {
            prefix = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("key") {
            key = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("skip") {
            meta.parse_nested_meta(|arg| match arg.path.get_ident() {
                Some(id) => {
                    skip.push(id.clone());
                    Ok(())
                }
                None => Err(arg.error("expected an argument name")),
            })
        } else {
            Err(meta.error("expected `ttl = <seconds>`, `prefix = \"...\"`, `skip(<args>)` or `key = <expr>`"))
        }
    });
    parser.parse2(attr)?;
    if let (Some(first), Some(_)) = (skip.first(), &key) {
        return Err(syn::Error::new(first.span(), "#[cached] takes `skip(..)` or `key = ..`, not both"));
    }
    let func: ItemFn = syn::parse2(item)?;
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new(func.sig.fn_token.span(), "#[cached] needs an async fn"));
    }
    let mut args = Vec::new();
    for input in &func.sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(
                    r.span(),
                    "#[cached] cannot key on `self`; use a free fn taking what identifies the result",
                ));
            }
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(id) => args.push(id.ident.clone()),
                other => return Err(syn::Error::new(other.span(), "#[cached] needs plain identifiers as arguments")),
            },
        }
    }
    for s in &skip {
        if !args.contains(s) {
            return Err(syn::Error::new(s.span(), format!("`{s}` is not an argument of this fn")));
        }
    }
    let keyed: Vec<&Ident> = args.iter().filter(|a| !skip.contains(a)).collect();
    let key_value = match key {
        // An explicit key: any `Serialize` value computed from the arguments.
        Some(expr) => quote!(&(#expr)),
        None => quote!(&(#(&#keyed,)*)),
    };
    let ttl = ttl.unwrap_or_else(|| syn::parse_quote!(300));
    let prefix = prefix.unwrap_or_else(|| LitStr::new(&func.sig.ident.to_string(), Span::call_site()));
    let ret = return_type(&func.sig.output);
    let helper = if is_result(&func.sig.output) { quote!(cached_result) } else { quote!(cached_call) };
    let ItemFn { attrs, vis, sig, block } = func;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            let __perf_cache_key = ::perf_cache::__private::function_key(#prefix, #key_value);
            ::perf_cache::__private::#helper::<#ret, _>(
                __perf_cache_key,
                ::std::time::Duration::from_secs(#ttl),
                async move #block,
            )
            .await
        }
    })
}

/// `#[invalidate_on_change("ns", ...)]`.
pub(crate) fn invalidate_on_change(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let namespaces = Punctuated::<LitStr, Token![,]>::parse_terminated.parse2(attr)?;
    if namespaces.is_empty() {
        return Err(syn::Error::new(Span::call_site(), "#[invalidate_on_change] needs at least one namespace"));
    }
    let namespaces: Vec<&LitStr> = namespaces.iter().collect();
    let func: ItemFn = syn::parse2(item)?;
    let ret = return_type(&func.sig.output);
    let result = is_result(&func.sig.output);
    let ItemFn { attrs, vis, sig, block } = func;
    let body = match (sig.asyncness.is_some(), result) {
        (true, true) => {
            quote!(::perf_cache::__private::invalidate_after_ok::<#ret, _>(&[#(#namespaces),*], async move #block).await)
        }
        (true, false) => {
            quote!(::perf_cache::__private::invalidate_after::<#ret, _>(&[#(#namespaces),*], async move #block).await)
        }
        (false, true) => {
            quote!(::perf_cache::__private::invalidate_after_ok_sync::<#ret, _>(&[#(#namespaces),*], || -> #ret #block))
        }
        (false, false) => {
            quote!(::perf_cache::__private::invalidate_after_sync::<#ret, _>(&[#(#namespaces),*], || -> #ret #block))
        }
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// `#[monitored]` / `#[monitored(name = "...")]`.
pub(crate) fn monitored(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `name = \"...\"`"))
        }
    });
    parser.parse2(attr)?;
    let func: ItemFn = syn::parse2(item)?;
    let name = name.unwrap_or_else(|| LitStr::new(&func.sig.ident.to_string(), Span::call_site()));
    let ret = return_type(&func.sig.output);
    let ItemFn { attrs, vis, sig, block } = func;
    let body = if sig.asyncness.is_some() {
        // The annotated binding gives `?` and `return` inside the body the
        // fn's return type to infer against.
        let out = Ident::new("__perf_db_output", Span::mixed_site());
        quote!(::perf_db::monitored_async(#name, async move { let #out: #ret = #block; #out }).await)
    } else {
        quote!(::perf_db::monitored(#name, || -> #ret #block))
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

fn return_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}

/// Whether the declared return type is spelled `...Result<...>`.
fn is_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else { return false };
    let Type::Path(path) = &**ty else { return false };
    path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == "Result")
}

#[cfg(test)]
mod tests;
