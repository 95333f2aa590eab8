//! Our WSDL against the official one: same contract, and self-contained.

use std::collections::{BTreeMap, BTreeSet};

use crate::helpers::*;

const NS_WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const NS_WSDL_SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
const NS_XSD: &str = "http://www.w3.org/2001/XMLSchema";

type QName = (String, String);

/// What a client generated from a WSDL depends on.
#[derive(Debug, PartialEq, Eq)]
struct Operation {
    soap_action: String,
    input_action: Option<String>,
    output_action: Option<String>,
    input_body: Vec<QName>,
    output_body: Vec<QName>,
    input_headers: BTreeSet<QName>,
    fault_parts: Vec<QName>,
}

#[derive(Debug, PartialEq, Eq)]
struct Contract {
    target_namespace: String,
    binding_style: String,
    binding_transport: String,
    operations: BTreeMap<String, Operation>,
}

fn attr<'a>(node: &'a Node, name: &str) -> &'a str {
    node.attr(name)
        .unwrap_or_else(|| panic!("{} without @{name}", node.name))
}

/// `Action` attribute of a portType input/output, whichever WS-Addressing WSDL
/// namespace it uses (2006/02 wsaw or 2007/05 wsam).
fn action_of(node: &Node) -> Option<String> {
    node.attrs
        .iter()
        .find(|(ns, name, _)| name == "Action" && ns.contains("addressing"))
        .map(|(_, _, v)| v.clone())
}

fn contract(wsdl: &Node) -> Contract {
    assert!(wsdl.is(NS_WSDL, "definitions"));
    let messages: BTreeMap<String, BTreeMap<String, QName>> = wsdl
        .all(NS_WSDL, "message")
        .into_iter()
        .map(|m| {
            let parts = m
                .all(NS_WSDL, "part")
                .into_iter()
                .map(|p| {
                    (
                        attr(p, "name").to_owned(),
                        p.resolve_qname(attr(p, "element")),
                    )
                })
                .collect();
            (attr(m, "name").to_owned(), parts)
        })
        .collect();
    let message = |node: &Node, qname: &str| -> &BTreeMap<String, QName> {
        let (_, local) = node.resolve_qname(qname);
        messages
            .get(&local)
            .unwrap_or_else(|| panic!("message {local}"))
    };
    let port_types = wsdl.all(NS_WSDL, "portType");
    assert_eq!(port_types.len(), 1);
    let bindings = wsdl.all(NS_WSDL, "binding");
    assert_eq!(bindings.len(), 1);
    let binding = bindings[0];
    let soap = binding
        .child(NS_WSDL_SOAP12, "binding")
        .expect("a SOAP 1.2 binding");

    let mut operations = BTreeMap::new();
    for op in binding.all(NS_WSDL, "operation") {
        let name = attr(op, "name").to_owned();
        let abstract_op = port_types[0]
            .all(NS_WSDL, "operation")
            .into_iter()
            .find(|o| attr(o, "name") == name)
            .expect("portType operation");
        let abstract_in = abstract_op.child(NS_WSDL, "input").expect("input");
        let abstract_out = abstract_op.child(NS_WSDL, "output").expect("output");
        let in_msg = message(abstract_in, attr(abstract_in, "message"));
        let out_msg = message(abstract_out, attr(abstract_out, "message"));
        let body_parts = |io: &Node, msg: &BTreeMap<String, QName>| -> Vec<QName> {
            let body = io.child(NS_WSDL_SOAP12, "body").expect("soap12:body");
            assert_eq!(attr(body, "use"), "literal");
            match body.attr("parts") {
                Some(parts) => parts.split_whitespace().map(|p| msg[p].clone()).collect(),
                None => msg.values().cloned().collect(),
            }
        };
        let input = op.child(NS_WSDL, "input").expect("binding input");
        let output = op.child(NS_WSDL, "output").expect("binding output");
        let input_headers = input
            .all(NS_WSDL_SOAP12, "header")
            .into_iter()
            .map(|h| message(h, attr(h, "message"))[attr(h, "part")].clone())
            .collect();
        let fault_parts = abstract_op
            .all(NS_WSDL, "fault")
            .into_iter()
            .flat_map(|f| message(f, attr(f, "message")).values().cloned())
            .collect();
        operations.insert(
            name,
            Operation {
                soap_action: attr(
                    op.child(NS_WSDL_SOAP12, "operation")
                        .expect("soap12:operation"),
                    "soapAction",
                )
                .to_owned(),
                input_action: action_of(abstract_in),
                output_action: action_of(abstract_out),
                input_body: body_parts(input, in_msg),
                output_body: body_parts(output, out_msg),
                input_headers,
                fault_parts,
            },
        );
    }
    Contract {
        target_namespace: attr(wsdl, "targetNamespace").to_owned(),
        binding_style: attr(soap, "style").to_owned(),
        binding_transport: attr(soap, "transport").to_owned(),
        operations,
    }
}

fn walk<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    out.push(node);
    for c in &node.children {
        walk(c, out);
    }
}

#[tokio::test]
async fn our_wsdl_has_the_official_contract_and_is_self_contained() {
    let sandbox = start_default().await;
    let response = client(Identity::Org)
        .get(sandbox.wsdl_url())
        .send()
        .await
        .expect("GET ?wsdl");
    assert_eq!(response.status().as_u16(), 200);
    let ours = parse(&response.bytes().await.unwrap()).expect("our WSDL parses");
    let official = parse(&read(
        &shared_dir().join("specs/insi/wsdl/DESIR_ICIR_EXP_1.5.0.wsdl"),
    ))
    .expect("official WSDL parses");

    let (ours_contract, official_contract) = (contract(&ours), contract(&official));
    assert_eq!(ours_contract, official_contract);
    assert_eq!(official_contract.operations.len(), 2);

    // Self-contained: no schema fetched from elsewhere, every element referenced is
    // declared inline.
    let mut nodes = Vec::new();
    walk(&ours, &mut nodes);
    for n in &nodes {
        if n.ns == NS_XSD && (n.name == "import" || n.name == "include") {
            assert!(
                n.attr("schemaLocation").is_none(),
                "schemaLocation in our WSDL"
            );
        }
    }
    let declared: BTreeSet<QName> = ours
        .path(NS_WSDL, &["types"])
        .expect("types")
        .all(NS_XSD, "schema")
        .into_iter()
        .flat_map(|schema| {
            let tns = attr(schema, "targetNamespace").to_owned();
            schema
                .all(NS_XSD, "element")
                .into_iter()
                .map(move |e| (tns.clone(), attr(e, "name").to_owned()))
        })
        .collect();
    for op in ours_contract.operations.values() {
        for q in op
            .input_body
            .iter()
            .chain(&op.output_body)
            .chain(&op.input_headers)
            .chain(&op.fault_parts)
        {
            assert!(declared.contains(q), "{q:?} is not declared inline");
        }
    }

    // The address is the sandbox's endpoint.
    let address = nodes
        .iter()
        .find(|n| n.is(NS_WSDL_SOAP12, "address"))
        .expect("soap12:address");
    assert_eq!(
        attr(address, "location"),
        format!("https://127.0.0.1:{}/lps", sandbox.addr().port())
    );
    sandbox.shutdown().await;
}
