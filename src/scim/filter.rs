//! The SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), parsed by a
//! tokenizer and a recursive-descent grammar — never by splitting strings (T46):
//!
//! ```text
//! or    := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "not" "(" or ")" | "(" or ")" | atom
//! atom  := attrPath "[" or "]" | attrPath "pr" | attrPath compareOp compValue
//! path  := attrPath ["[" or "]" ["." subAttr]]          (PATCH only)
//! ```
//!
//! Keywords and attribute names are case-insensitive; string comparisons follow each
//! attribute's `caseExact`. Nesting deeper than [`MAX_DEPTH`] and filters longer than
//! [`MAX_LEN`] are refused, so no input can exhaust the stack.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::{ScimError, ScimResult};
use super::schema::{Attr, AttrType, ResourceSchema};

pub const MAX_DEPTH: usize = 12;
pub const MAX_LEN: usize = 4096;
const MAX_TERMS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Num(serde_json::Number),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(input: &str) -> ScimResult<Vec<Token>> {
    if input.len() > MAX_LEN {
        return Err(ScimError::invalid_filter(format!(
            "the filter is longer than {MAX_LEN} characters"
        )));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '[' => {
                out.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                out.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                let (s, next) = string_literal(&chars, i)?;
                out.push(Token::Str(s));
                i = next;
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: serde_json::Number = text
                    .parse()
                    .map_err(|_| ScimError::invalid_filter(format!("`{text}` is not a number")))?;
                out.push(Token::Num(n));
            }
            c if c.is_ascii_alphabetic() || matches!(c, '$' | '.' | '_') => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], ':' | '.' | '_' | '$' | '-'))
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "unexpected character `{other}` at position {i}"
                )))
            }
        }
    }
    Ok(out)
}

/// A JSON string literal starting at `chars[start] == '"'`; returns it and the next index.
fn string_literal(chars: &[char], start: usize) -> ScimResult<(String, usize)> {
    let mut i = start + 1;
    let mut raw = String::from('"');
    while i < chars.len() {
        let c = chars[i];
        raw.push(c);
        if c == '\\' {
            i += 1;
            if let Some(&n) = chars.get(i) {
                raw.push(n);
            }
        } else if c == '"' {
            let s: String = serde_json::from_str(&raw).map_err(|_| {
                ScimError::invalid_filter(format!(
                    "invalid escape in the string starting at position {start}"
                ))
            })?;
            return Ok((s, i + 1));
        }
        i += 1;
    }
    Err(ScimError::invalid_filter(format!(
        "the string starting at position {start} is not closed with \""
    )))
}

/// `[uri:]attr[.sub]` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.uri {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl AttrPath {
    pub fn parse(word: &str) -> ScimResult<Self> {
        let (uri, rest) = if word.len() > 4 && word[..4].eq_ignore_ascii_case("urn:") {
            match word.rfind(':') {
                Some(i) => (Some(word[..i].to_owned()), &word[i + 1..]),
                None => (None, word),
            }
        } else {
            (None, word)
        };
        let mut parts = rest.split('.');
        let attr = parts.next().unwrap_or_default().to_owned();
        let sub = parts.next().map(str::to_owned);
        if parts.next().is_some()
            || !valid_name(&attr)
            || sub.as_deref().is_some_and(|s| !valid_name(s))
        {
            return Err(ScimError::invalid_path(format!(
                "`{word}` is not an attribute path (attribute[.subAttribute], optionally prefixed by a schema URN)"
            )));
        }
        Ok(Self { uri, attr, sub })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(w: &str) -> Option<Self> {
        Some(match w.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Value),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`.
    ValuePath(AttrPath, Box<Filter>),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    terms: usize,
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens,
            pos: 0,
            depth: 0,
            terms: 0,
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: &Token, what: &str) -> ScimResult<()> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "expected {what}, found {}",
                describe(&t)
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "expected {what}, but the filter ended"
            ))),
        }
    }

    fn enter(&mut self) -> ScimResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> ScimResult<Filter> {
        let mut left = self.and()?;
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> ScimResult<Filter> {
        let mut left = self.unary()?;
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> ScimResult<Filter> {
        if is_kw(self.peek(), "not") && matches!(self.tokens.get(self.pos + 1), Some(Token::Open)) {
            self.pos += 2;
            self.enter()?;
            let inner = self.or()?;
            self.expect(&Token::Close, "`)`")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if matches!(self.peek(), Some(Token::Open)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or()?;
            self.expect(&Token::Close, "`)`")?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.atom()
    }

    fn atom(&mut self) -> ScimResult<Filter> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ScimError::invalid_filter(format!(
                "the filter has more than {MAX_TERMS} comparisons"
            )));
        }
        let path = match self.next() {
            Some(Token::Word(w)) => {
                AttrPath::parse(&w).map_err(|e| ScimError::invalid_filter(e.detail))?
            }
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an attribute name, found {}",
                    describe(&t)
                )))
            }
            None => {
                return Err(ScimError::invalid_filter(
                    "expected an attribute name, but the filter ended",
                ))
            }
        };
        if matches!(self.peek(), Some(Token::OpenBracket)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or()?;
            self.expect(&Token::CloseBracket, "`]`")?;
            self.depth -= 1;
            // `emails[type eq "work"].value eq "x"` (Entra ID's matching filter) reads as
            // `emails[type eq "work" and value eq "x"]`.
            if let Some(Token::Word(w)) = self.peek().cloned() {
                if let Some(sub) = w.strip_prefix('.').filter(|s| valid_name(s)) {
                    self.pos += 1;
                    let sub_path = AttrPath {
                        uri: None,
                        attr: sub.to_owned(),
                        sub: None,
                    };
                    let cond = self.condition(sub_path)?;
                    return Ok(Filter::ValuePath(
                        path,
                        Box::new(Filter::And(Box::new(inner), Box::new(cond))),
                    ));
                }
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.condition(path)
    }

    /// `pr`, or an operator and a value, after an attribute path.
    fn condition(&mut self, path: AttrPath) -> ScimResult<Filter> {
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path))
            }
            Some(Token::Word(w)) => CompareOp::parse(&w).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "`{w}` is not an operator (eq ne co sw ew gt ge lt le pr)"
                ))
            })?,
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after `{path}`, found {}",
                    describe(&t)
                )))
            }
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after `{path}`, but the filter ended"
                )))
            }
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Num(n)) => Value::Number(n),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value (a \"string\", number, true, false or null) after `{path}`, found {}",
                    describe(&t)
                )))
            }
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value after `{path}`, but the filter ended"
                )))
            }
        };
        Ok(Filter::Compare(path, op, value))
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("`{w}`"),
        Token::Str(s) => format!("\"{s}\""),
        Token::Num(n) => n.to_string(),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::OpenBracket => "`[`".into(),
        Token::CloseBracket => "`]`".into(),
    }
}

/// Parses a `filter` query parameter.
pub fn parse(input: &str) -> ScimResult<Filter> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    let mut p = Parser::new(tokens);
    let f = p.or()?;
    match p.next() {
        None => Ok(f),
        Some(t) => Err(ScimError::invalid_filter(format!(
            "unexpected {} after a complete filter (combine conditions with and/or)",
            describe(&t)
        ))),
    }
}

/// A PATCH operation's `path`: an attribute, optionally narrowed to the values matching a
/// filter, optionally to one sub-attribute of those values.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

pub fn parse_path(input: &str) -> ScimResult<PatchPath> {
    let as_path = |e: ScimError| ScimError::invalid_path(format!("path `{input}`: {}", e.detail));
    let tokens = tokenize(input).map_err(as_path)?;
    let mut p = Parser::new(tokens);
    let attr = match p.next() {
        Some(Token::Word(w)) => AttrPath::parse(&w).map_err(as_path)?,
        _ => {
            return Err(ScimError::invalid_path(format!(
                "path `{input}` does not start with an attribute name"
            )))
        }
    };
    let mut filter = None;
    let mut sub = None;
    if matches!(p.peek(), Some(Token::OpenBracket)) {
        if attr.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "path `{input}`: a value filter applies to an attribute, not a sub-attribute"
            )));
        }
        p.pos += 1;
        p.enter().map_err(as_path)?;
        filter = Some(p.or().map_err(as_path)?);
        p.expect(&Token::CloseBracket, "`]`").map_err(as_path)?;
        if let Some(Token::Word(w)) = p.peek().cloned() {
            if let Some(s) = w.strip_prefix('.').filter(|s| valid_name(s)) {
                sub = Some(s.to_owned());
                p.pos += 1;
            }
        }
    }
    if let Some(t) = p.next() {
        return Err(ScimError::invalid_path(format!(
            "path `{input}`: unexpected {} after the path",
            describe(&t)
        )));
    }
    Ok(PatchPath { attr, filter, sub })
}

// ---------------------------------------------------------------------------------------
// Resolution against a resource type and evaluation.

/// Where an attribute lives in a resource's JSON and what its definition is.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The extension object's key, `None` for core and common attributes.
    pub ext: Option<&'static str>,
    pub attr: &'static Attr,
    pub sub: Option<&'static Attr>,
}

impl Resolved {
    /// The definition comparisons use: the sub-attribute, or a multi-valued complex
    /// attribute's `value`.
    pub fn leaf(&self) -> &'static Attr {
        match self.sub {
            Some(s) => s,
            None if self.attr.ty == AttrType::Complex => {
                self.attr.sub_attr("value").unwrap_or(self.attr)
            }
            None => self.attr,
        }
    }
}

pub static ID_ATTR: Attr = common("id", AttrType::String, &[]);
pub static EXTERNAL_ID_ATTR: Attr = Attr {
    mutability: super::schema::Mutability::ReadWrite,
    ..common("externalId", AttrType::String, &[])
};
const META_SUB: &[Attr] = &[
    common("resourceType", AttrType::String, &[]),
    common("created", AttrType::DateTime, &[]),
    common("lastModified", AttrType::DateTime, &[]),
    common("location", AttrType::Reference, &[]),
    common("version", AttrType::String, &[]),
];
pub static META_ATTR: Attr = common("meta", AttrType::Complex, META_SUB);

const fn common(name: &'static str, ty: AttrType, sub: &'static [Attr]) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: true,
        mutability: super::schema::Mutability::ReadOnly,
        returned: super::schema::Returned::Default,
        unique: false,
        canonical: &[],
        reference_types: &[],
        sub,
        description: "",
    }
}

/// Resolves `path` for resource type `rs`; unknown attributes are errors naming them.
pub fn resolve(rs: &ResourceSchema, path: &AttrPath) -> ScimResult<Resolved> {
    let unknown =
        || ScimError::invalid_path(format!("`{path}` is not an attribute of {}", rs.name));
    let (ext, attr) = match &path.uri {
        Some(uri) => {
            let schema = rs.schema(uri).ok_or_else(|| {
                ScimError::invalid_path(format!("`{uri}` is not a schema of {}", rs.name))
            })?;
            let ext = (schema.id != rs.core.id).then_some(schema.id);
            (ext, schema.attr(&path.attr).ok_or_else(unknown)?)
        }
        None => {
            let a = &path.attr;
            let attr = if a.eq_ignore_ascii_case("id") {
                &ID_ATTR
            } else if a.eq_ignore_ascii_case("externalId") {
                &EXTERNAL_ID_ATTR
            } else if a.eq_ignore_ascii_case("meta") {
                &META_ATTR
            } else {
                rs.core.attr(a).ok_or_else(unknown)?
            };
            (None, attr)
        }
    };
    let sub = match &path.sub {
        Some(s) => Some(attr.sub_attr(s).ok_or_else(unknown)?),
        None => None,
    };
    Ok(Resolved { ext, attr, sub })
}

/// A filter whose attribute paths are resolved, ready to evaluate many times.
#[derive(Debug, Clone)]
pub enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
    Present(Resolved),
    Compare(Resolved, CompareOp, Value),
    Any(Resolved, Box<Compiled>),
}

pub fn compile(rs: &ResourceSchema, f: &Filter) -> ScimResult<Compiled> {
    compile_in(rs, None, f).map_err(|e| ScimError::invalid_filter(e.detail))
}

/// `within`: the multi-valued complex attribute whose values an inner filter examines.
fn compile_in(rs: &ResourceSchema, within: Option<&Resolved>, f: &Filter) -> ScimResult<Compiled> {
    let res = |p: &AttrPath| -> ScimResult<Resolved> {
        match within {
            None => resolve(rs, p),
            Some(outer) => {
                if p.uri.is_some() || p.sub.is_some() {
                    return Err(ScimError::invalid_filter(format!(
                        "inside {}[…] name sub-attributes only, e.g. value or type",
                        outer.attr.name
                    )));
                }
                let sub = outer.attr.sub_attr(&p.attr).ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "`{}` is not a sub-attribute of {}",
                        p.attr, outer.attr.name
                    ))
                })?;
                Ok(Resolved {
                    ext: None,
                    attr: sub,
                    sub: None,
                })
            }
        }
    };
    Ok(match f {
        Filter::And(a, b) => {
            Compiled::And(vec![compile_in(rs, within, a)?, compile_in(rs, within, b)?])
        }
        Filter::Or(a, b) => {
            Compiled::Or(vec![compile_in(rs, within, a)?, compile_in(rs, within, b)?])
        }
        Filter::Not(a) => Compiled::Not(Box::new(compile_in(rs, within, a)?)),
        Filter::Present(p) => Compiled::Present(res(p)?),
        Filter::Compare(p, op, v) => {
            let r = res(p)?;
            let leaf = r.leaf();
            let v = check_comparable(leaf, *op, v)?;
            Compiled::Compare(r, *op, v)
        }
        Filter::ValuePath(p, inner) => {
            if within.is_some() {
                return Err(ScimError::invalid_filter("value filters cannot nest"));
            }
            let r = resolve(rs, p)?;
            if r.attr.ty != AttrType::Complex || r.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "`{p}[…]` needs a complex attribute such as emails or members"
                )));
            }
            Compiled::Any(r, Box::new(compile_in(rs, Some(&r), inner)?))
        }
    })
}

fn check_comparable(attr: &Attr, op: CompareOp, v: &Value) -> ScimResult<Value> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    match (attr.ty, v) {
        (_, Value::Null) if matches!(op, CompareOp::Eq | CompareOp::Ne) => Ok(Value::Null),
        (AttrType::Boolean, Value::Bool(_)) if !ordering && !substring => Ok(v.clone()),
        (AttrType::Boolean, Value::String(s)) if !ordering && !substring => {
            match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(ScimError::invalid_filter(format!(
                    "{} is boolean: compare it with true or false",
                    attr.name
                ))),
            }
        }
        (AttrType::Boolean, _) => Err(ScimError::invalid_filter(format!(
            "{} is boolean: only eq/ne with true or false apply",
            attr.name
        ))),
        (AttrType::DateTime, Value::String(s)) => {
            if !substring && OffsetDateTime::parse(s, &Rfc3339).is_err() {
                return Err(ScimError::invalid_filter(format!(
                    "{} is a dateTime: \"{s}\" is not RFC 3339 (e.g. 2024-01-31T12:00:00Z)",
                    attr.name
                )));
            }
            Ok(v.clone())
        }
        (AttrType::Decimal | AttrType::Integer, Value::Number(_)) if !substring => Ok(v.clone()),
        (AttrType::String | AttrType::Reference, Value::String(_)) => Ok(v.clone()),
        (AttrType::Complex, _) => Err(ScimError::invalid_filter(format!(
            "{} is complex: compare one of its sub-attributes (e.g. {}.value)",
            attr.name, attr.name
        ))),
        _ => Err(ScimError::invalid_filter(format!(
            "{} cannot be compared with {v} using this operator",
            attr.name
        ))),
    }
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values at `r` in `root` (multi-valued attributes flattened).
pub fn values_at<'a>(root: &'a Value, r: &Resolved) -> Vec<&'a Value> {
    let Some(obj) = root.as_object() else {
        return Vec::new();
    };
    let container = match r.ext {
        Some(ext) => match get_ci(obj, ext).and_then(Value::as_object) {
            Some(o) => o,
            None => return Vec::new(),
        },
        None => obj,
    };
    let Some(v) = get_ci(container, r.attr.name) else {
        return Vec::new();
    };
    let pick = |elem: &'a Value| -> Option<&'a Value> {
        match (r.sub, elem.as_object()) {
            (Some(s), Some(o)) => get_ci(o, s.name),
            (None, Some(o)) if r.attr.ty == AttrType::Complex && r.attr.multi => get_ci(o, "value"),
            _ => Some(elem),
        }
    };
    match v {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        other => pick(other).into_iter().collect(),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        _ => true,
    }
}

fn compare_one(attr: &Attr, op: CompareOp, actual: &Value, wanted: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = |o: Ordering| match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (actual, wanted) {
        (Value::Bool(a), Value::Bool(b)) => ord(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).is_some_and(ord),
            _ => false,
        },
        (Value::String(a), Value::String(b)) => {
            if attr.ty == AttrType::DateTime
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            {
                return match (
                    OffsetDateTime::parse(a, &Rfc3339),
                    OffsetDateTime::parse(b, &Rfc3339),
                ) {
                    (Ok(x), Ok(y)) => ord(x.cmp(&y)),
                    _ => false,
                };
            }
            let (a, b) = if attr.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ord(a.cmp(&b)),
            }
        }
        _ => false,
    }
}

/// Whether `resource` (its JSON representation) matches.
pub fn matches(f: &Compiled, resource: &Value) -> bool {
    match f {
        Compiled::And(v) => v.iter().all(|f| matches(f, resource)),
        Compiled::Or(v) => v.iter().any(|f| matches(f, resource)),
        Compiled::Not(f) => !matches(f, resource),
        Compiled::Present(r) => values_at(resource, r).into_iter().any(is_present),
        Compiled::Compare(r, op, wanted) => {
            let values = values_at(resource, r);
            let leaf = r.leaf();
            match (op, wanted) {
                (CompareOp::Eq, Value::Null) => !values.into_iter().any(is_present),
                (CompareOp::Ne, Value::Null) => values.into_iter().any(is_present),
                // "Not equal" holds when no value equals: a person without the attribute is
                // "ne" anything, and one work address does not make every address equal.
                (CompareOp::Ne, _) => !values
                    .iter()
                    .any(|v| compare_one(leaf, CompareOp::Eq, v, wanted)),
                _ => values.iter().any(|v| compare_one(leaf, *op, v, wanted)),
            }
        }
        Compiled::Any(r, inner) => {
            let Some(obj) = resource.as_object() else {
                return false;
            };
            let container = match r.ext {
                Some(ext) => get_ci(obj, ext).and_then(Value::as_object),
                None => Some(obj),
            };
            match container.and_then(|c| get_ci(c, r.attr.name)) {
                Some(Value::Array(items)) => items.iter().any(|item| matches(inner, item)),
                Some(item @ Value::Object(_)) => matches(inner, item),
                _ => false,
            }
        }
    }
}

/// A lookup a store index can answer instead of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    Id(String),
    UserName(String),
    ExternalId(String),
    Email(String),
    DisplayName(String),
}

/// Index lookups that together find every resource `f` can match, or `None` when only a
/// scan can. Candidates are always re-checked with [`matches`].
pub fn hints(f: &Compiled) -> Option<Vec<Hint>> {
    match f {
        Compiled::Compare(r, CompareOp::Eq, Value::String(s)) if r.ext.is_none() => {
            let name = r.attr.name;
            let sub = r.sub.map(|s| s.name);
            let h = match (name, sub) {
                ("id", None) => Hint::Id(s.clone()),
                ("externalId", None) => Hint::ExternalId(s.clone()),
                ("userName", None) => Hint::UserName(s.clone()),
                ("displayName", None) => Hint::DisplayName(s.clone()),
                ("emails", None | Some("value")) => Hint::Email(s.clone()),
                _ => return None,
            };
            Some(vec![h])
        }
        Compiled::Any(r, inner) if r.ext.is_none() && r.attr.name == "emails" => {
            match inner.as_ref() {
                Compiled::Compare(v, CompareOp::Eq, Value::String(s)) if v.attr.name == "value" => {
                    Some(vec![Hint::Email(s.clone())])
                }
                Compiled::And(parts) => parts.iter().find_map(|p| match p {
                    Compiled::Compare(v, CompareOp::Eq, Value::String(s))
                        if v.attr.name == "value" =>
                    {
                        Some(vec![Hint::Email(s.clone())])
                    }
                    _ => None,
                }),
                _ => None,
            }
        }
        Compiled::And(parts) => parts.iter().find_map(hints),
        Compiled::Or(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(hints(p)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// Whether the filter looks at `attr` (so the caller must load it before matching).
pub fn mentions(f: &Compiled, attr: &str) -> bool {
    match f {
        Compiled::And(v) | Compiled::Or(v) => v.iter().any(|f| mentions(f, attr)),
        Compiled::Not(f) => mentions(f, attr),
        Compiled::Present(r) | Compiled::Compare(r, _, _) => r.ext.is_none() && r.attr.name == attr,
        Compiled::Any(r, _) => r.ext.is_none() && r.attr.name == attr,
    }
}

#[cfg(test)]
mod tests;
