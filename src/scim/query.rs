//! List parameters (RFC 7644 §3.4.2): `filter`, `startIndex`/`count` and the attribute
//! projection, parsed from the raw query string so every mistake gets a precise SCIM error.

use super::error::{ScimError, ScimResult};
use super::filter::{self, Compiled};
use super::resource::Projection;
use super::schema::{ResourceSchema, MAX_RESULTS};

/// Page size when the client names none.
const DEFAULT_COUNT: usize = 100;

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Compiled>,
    /// 1-based, as in SCIM.
    pub start_index: usize,
    pub count: usize,
    pub projection: Projection,
}

fn number(name: &str, v: &str) -> ScimResult<i64> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not \"{v}\"")))
}

/// The projection parameters alone (single-resource GET, POST, PUT, PATCH).
pub fn projection(query: &str) -> ScimResult<Projection> {
    let (mut attributes, mut excluded) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k.eq_ignore_ascii_case("attributes") {
            attributes = Some(v.into_owned());
        } else if k.eq_ignore_ascii_case("excludedAttributes") {
            excluded = Some(v.into_owned());
        }
    }
    Projection::parse(attributes.as_deref(), excluded.as_deref())
}

pub fn parse(rs: &ResourceSchema, query: &str) -> ScimResult<ListQuery> {
    let mut out = ListQuery {
        filter: None,
        start_index: 1,
        count: DEFAULT_COUNT,
        projection: projection(query)?,
    };
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k.eq_ignore_ascii_case("filter") {
            let parsed = filter::parse(&v)?;
            out.filter = Some(filter::compile(rs, &parsed)?);
        } else if k.eq_ignore_ascii_case("startIndex") {
            // Values below 1 are read as 1 (RFC 7644 §3.4.2.4).
            out.start_index = usize::try_from(number("startIndex", &v)?.max(1)).unwrap_or(1);
        } else if k.eq_ignore_ascii_case("count") {
            // Negative counts are 0; more than maxResults is answered with maxResults.
            out.count = usize::try_from(number("count", &v)?.max(0))
                .unwrap_or(0)
                .min(MAX_RESULTS);
        }
        // sortBy/sortOrder: sorting is not offered (ServiceProviderConfig says so) and the
        // order stays the stable id order. Unknown parameters such as Entra ID's
        // `aadOptscim062020` flag are ignored.
    }
    Ok(out)
}

pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A `POST …/.search` body (RFC 7644 §3.4.3): the same parameters as a query string.
pub fn parse_search(rs: &ResourceSchema, body: &serde_json::Value) -> ScimResult<ListQuery> {
    use serde_json::Value;
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a search request must be a JSON object"))?;
    let get = |k: &str| {
        obj.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    };
    if let Some(schemas) = get("schemas") {
        let ok = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::invalid_value(format!(
                "schemas must be [\"{SEARCH_SCHEMA}\"]"
            )));
        }
    }
    let list = |k: &str| -> ScimResult<Option<String>> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_owned).ok_or_else(|| {
                        ScimError::invalid_value(format!("{k} must be an array of attribute names"))
                    })
                })
                .collect::<ScimResult<Vec<_>>>()
                .map(|v| Some(v.join(","))),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_value(format!(
                "{k} must be an array of attribute names"
            ))),
        }
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(a) = list("attributes")? {
        q.append_pair("attributes", &a);
    }
    if let Some(a) = list("excludedAttributes")? {
        q.append_pair("excludedAttributes", &a);
    }
    match get("filter") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) => {
            q.append_pair("filter", f);
        }
        Some(_) => return Err(ScimError::invalid_filter("filter must be a string")),
    }
    for k in ["startIndex", "count"] {
        match get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                q.append_pair(k, &n.to_string());
            }
            Some(_) => return Err(ScimError::invalid_value(format!("{k} must be an integer"))),
        }
    }
    parse(rs, &q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER_RESOURCE;

    #[test]
    fn paging_parameters() {
        let q = parse(&USER_RESOURCE, "startIndex=1&count=2").unwrap();
        assert_eq!((q.start_index, q.count), (1, 2));
        let q = parse(&USER_RESOURCE, "startIndex=-4&count=-1&aadOptscim062020").unwrap();
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = parse(&USER_RESOURCE, "count=100000").unwrap();
        assert_eq!(q.count, MAX_RESULTS);
        assert!(parse(&USER_RESOURCE, "count=ten")
            .unwrap_err()
            .detail
            .contains("integer"));
        let q = parse(&USER_RESOURCE, "filter=userName%20eq%20%22a%20b%22").unwrap();
        assert!(q.filter.is_some());
        assert_eq!(
            parse(&USER_RESOURCE, "filter=userName%20eq")
                .unwrap_err()
                .scim_type,
            Some(crate::scim::error::ScimType::InvalidFilter)
        );
    }
}
