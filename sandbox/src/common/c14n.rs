//! Exclusive XML canonicalisation 1.0 without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`, no `InclusiveNamespaces` prefix list) of
//! an element of the parsed tree, as XMLDSig needs it: the signed assertion (with the
//! enveloped signature left out) and its `SignedInfo`.
//!
//! What the recommendation asks, and what is done here:
//! - namespace declarations are rendered only where *visibly utilised* (the element's
//!   prefix, or the default namespace for an unprefixed element, and the prefixes of its
//!   attributes) and not already rendered with the same value by an output ancestor;
//!   `xmlns=""` only when an output ancestor rendered a non-empty default;
//! - declarations sorted by prefix (default first), then attributes by namespace URI and
//!   local name (unqualified first);
//! - empty elements as start/end tag pairs; character data and attribute values escaped
//!   as C14N says; comments and processing instructions left out (the parser drops them;
//!   an assertion signed with some inside would not verify — none of the known signers
//!   writes any);
//! - the document's in-scope namespaces, declared on ancestors, are taken into account
//!   for the apex.

use std::collections::BTreeMap;

use super::xml::{Content, Element};

const XML_PREFIX: &str = "xml";

/// The canonical form of `apex`. `ancestors` are its ancestors, outermost first (their
/// namespace declarations are in scope). `omit` is left out with its subtree (the
/// enveloped-signature transform), compared by address.
#[cfg(test)]
pub(crate) fn exclusive(apex: &Element, ancestors: &[&Element], omit: Option<&Element>) -> String {
    exclusive_with(apex, ancestors, omit, &[])
}

/// [`exclusive`] with an `InclusiveNamespaces PrefixList` (`#default` for the default
/// namespace): those prefixes are rendered as inclusive C14N would, wherever they are in
/// scope and not already rendered with the same value by an output ancestor.
pub(crate) fn exclusive_with(
    apex: &Element,
    ancestors: &[&Element],
    omit: Option<&Element>,
    inclusive: &[String],
) -> String {
    let mut in_scope: BTreeMap<String, String> = BTreeMap::new();
    for a in ancestors {
        declare(&mut in_scope, a);
    }
    let inclusive: Vec<String> = inclusive
        .iter()
        .map(|p| {
            if p == "#default" {
                String::new()
            } else {
                p.clone()
            }
        })
        .collect();
    let mut out = String::with_capacity(4096);
    let ctx = Ctx {
        omit,
        inclusive: &inclusive,
    };
    render(apex, &in_scope, &BTreeMap::new(), &ctx, &mut out);
    out
}

struct Ctx<'a> {
    omit: Option<&'a Element>,
    inclusive: &'a [String],
}

fn declare(scope: &mut BTreeMap<String, String>, element: &Element) {
    for (prefix, uri) in &element.ns_decls {
        scope.insert(prefix.clone(), uri.clone());
    }
}

fn render(
    element: &Element,
    in_scope: &BTreeMap<String, String>,
    rendered: &BTreeMap<String, String>,
    ctx: &Ctx<'_>,
    out: &mut String,
) {
    if ctx.omit.is_some_and(|o| std::ptr::eq(o, element)) {
        return;
    }
    let mut scope = in_scope.clone();
    declare(&mut scope, element);

    // Visibly utilised prefixes ("" is the default namespace).
    let mut used: Vec<String> = vec![element.prefix.clone().unwrap_or_default()];
    for a in &element.attrs {
        if let Some(p) = &a.prefix
            && p != XML_PREFIX
            && !used.contains(p)
        {
            used.push(p.clone());
        }
    }
    for p in ctx.inclusive {
        if !used.contains(p) && scope.get(p).is_some_and(|u| !u.is_empty()) {
            used.push(p.clone());
        }
    }
    used.sort();
    let mut now_rendered = rendered.clone();
    let mut decls = String::new();
    for prefix in used {
        let uri = scope.get(&prefix).cloned().unwrap_or_default();
        let already = rendered.get(&prefix);
        let needed = if prefix.is_empty() && uri.is_empty() {
            already.is_some_and(|u| !u.is_empty())
        } else {
            already != Some(&uri)
        };
        if !needed {
            continue;
        }
        if prefix.is_empty() {
            decls.push_str(&format!(" xmlns=\"{}\"", escape_attr(&uri)));
        } else {
            decls.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape_attr(&uri)));
        }
        now_rendered.insert(prefix, uri);
    }

    let qname = match &element.prefix {
        Some(p) => format!("{p}:{}", element.local),
        None => element.local.clone(),
    };
    let mut attrs: Vec<_> = element.attrs.iter().collect();
    attrs.sort_by(|a, b| {
        (a.ns.as_deref().unwrap_or(""), a.local.as_str())
            .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
    });
    out.push('<');
    out.push_str(&qname);
    out.push_str(&decls);
    for a in attrs {
        out.push(' ');
        if let Some(p) = &a.prefix {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(&a.local);
        out.push_str("=\"");
        out.push_str(&escape_attr(&a.value));
        out.push('"');
    }
    out.push('>');
    for piece in &element.content {
        match piece {
            Content::Text(t) => out.push_str(&escape_text(t)),
            Content::Child(i) => {
                if let Some(child) = element.children.get(*i) {
                    render(child, &scope, &now_rendered, ctx, out);
                }
            }
        }
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::xml::parse;
    use super::*;

    fn canon(doc: &str, path: &[&str]) -> String {
        let root = parse(doc.as_bytes()).unwrap();
        let mut ancestors = vec![&root];
        let mut cur = &root;
        for local in path {
            cur = cur.children.iter().find(|c| c.local == *local).unwrap();
            ancestors.push(cur);
        }
        ancestors.pop();
        exclusive(cur, &ancestors, None)
    }

    /// Examples in the spirit of the Exclusive C14N recommendation §2.2: ancestors'
    /// unused declarations are not pulled in, used ones are.
    #[test]
    fn renders_only_visibly_used_namespaces() {
        let doc = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        assert_eq!(
            canon(doc, &["elem2"]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
        // Default namespace from an ancestor, attribute order, escaping, CDATA, refs.
        let doc = "<a xmlns=\"urn:a\" xmlns:z=\"urn:z\"><b z:k=\"1\" a=\"x&amp;&#9;y\" b=\"&quot;\">t&gt;<![CDATA[<c>]]>&#13;<c/></b></a>";
        assert_eq!(
            canon(doc, &["b"]),
            "<b xmlns=\"urn:a\" xmlns:z=\"urn:z\" a=\"x&amp;&#x9;y\" b=\"&quot;\" z:k=\"1\">t&gt;&lt;c&gt;&#xD;<c></c></b>"
        );
        // An unprefixed element out of a default namespace the apex rendered.
        let doc = r#"<a xmlns="urn:a"><b xmlns=""/></a>"#;
        assert_eq!(canon(doc, &[]), r#"<a xmlns="urn:a"><b xmlns=""></b></a>"#);
    }

    /// InclusiveNamespaces PrefixList: listed prefixes in scope are rendered on the apex
    /// (and not again below), `#default` names the default namespace.
    #[test]
    fn inclusive_prefixes_are_rendered_where_in_scope() {
        let doc = r#"<a xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q"><x:b xmlns:x="urn:x"><x:c/></x:b></a>"#;
        let root = parse(doc.as_bytes()).unwrap();
        let b = &root.children[0];
        assert_eq!(
            exclusive_with(b, &[&root], None, &["p".into(), "#default".into()]),
            r#"<x:b xmlns="urn:d" xmlns:p="urn:p" xmlns:x="urn:x"><x:c></x:c></x:b>"#
        );
        assert_eq!(
            exclusive_with(b, &[&root], None, &[]),
            r#"<x:b xmlns:x="urn:x"><x:c></x:c></x:b>"#
        );
    }
}
