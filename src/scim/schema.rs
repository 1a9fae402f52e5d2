//! The attributes Gatehouse serves, as data: one definition drives validation of what IdPs
//! send, case rules in filters, and the `/Schemas`, `/ResourceTypes` and
//! `/ServiceProviderConfig` documents, so what is advertised is exactly what is enforced.

use serde_json::{json, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// What the vendor guides map that SCIM has no attribute for: office and license type.
pub const GATEHOUSE_SCHEMA: &str = "urn:gatehouse:params:scim:schemas:extension:gatehouse:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Largest page a list answers with (`filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
}

impl AttrType {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
}

#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub unique: bool,
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub: &'static [Attr],
    pub description: &'static str,
}

impl Attr {
    const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            unique: false,
            canonical: &[],
            reference_types: &[],
            sub: &[],
            description,
        }
    }
    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Self {
        Self {
            sub,
            ..Self::new(name, AttrType::Complex, description)
        }
    }
    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self {
            reference_types: types,
            ..Self::new(name, AttrType::Reference, description)
        }
    }
    const fn multi(self) -> Self {
        Self {
            multi: true,
            ..self
        }
    }
    const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }
    const fn read_only(self) -> Self {
        Self {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }
    const fn immutable(self) -> Self {
        Self {
            mutability: Mutability::Immutable,
            ..self
        }
    }
    const fn unique(self) -> Self {
        Self {
            unique: true,
            ..self
        }
    }
    const fn canonical(self, values: &'static [&'static str]) -> Self {
        Self {
            canonical: values,
            ..self
        }
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn document(&self, canonical_override: Option<&[String]>) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Default => "default",
            },
            "uniqueness": if self.unique { "server" } else { "none" },
        });
        let canonical: Vec<Value> = match canonical_override {
            Some(values) => values.iter().map(|s| json!(s)).collect(),
            None => self.canonical.iter().map(|s| json!(s)).collect(),
        };
        if !canonical.is_empty() {
            v["canonicalValues"] = Value::Array(canonical);
        }
        if self.ty == AttrType::Reference {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if self.ty == AttrType::Complex {
            v["subAttributes"] = Value::Array(self.sub.iter().map(|a| a.document(None)).collect());
        }
        v
    }
}

const TYPE_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

const NAME_SUB: &[Attr] = &[
    Attr::string("formatted", "The full name, formatted for display."),
    Attr::string("familyName", "Family name (last name)."),
    Attr::string("givenName", "Given name (first name)."),
    Attr::string("middleName", "Middle name(s)."),
    Attr::string("honorificPrefix", "Title such as Ms. or Dr."),
    Attr::string("honorificSuffix", "Suffix such as III."),
];

const EMAIL_SUB: &[Attr] = &[
    Attr::string("value", "The email address."),
    Attr::string("display", "A label for display."),
    Attr::string("type", "work, home or other.").canonical(TYPE_WORK_HOME_OTHER),
    Attr::boolean("primary", "The person's primary address; at most one."),
];

const PHONE_SUB: &[Attr] = &[
    Attr::string("value", "The phone number."),
    Attr::string("display", "A label for display."),
    Attr::string("type", "work, home, mobile, fax, pager or other.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    Attr::boolean("primary", "The primary number; at most one."),
];

const ADDRESS_SUB: &[Attr] = &[
    Attr::string("formatted", "The full address, formatted for display."),
    Attr::string("streetAddress", "Street and number."),
    Attr::string("locality", "City."),
    Attr::string("region", "State or region."),
    Attr::string("postalCode", "Postal code."),
    Attr::string("country", "Country, ISO 3166-1 alpha-2 (e.g. US)."),
    Attr::string("type", "work, home or other.").canonical(TYPE_WORK_HOME_OTHER),
    Attr::boolean("primary", "The primary address; at most one."),
];

const USER_GROUP_SUB: &[Attr] = &[
    Attr::string("value", "The group's id.").read_only(),
    Attr::reference("$ref", &["Group"], "The group's URI.").read_only(),
    Attr::string("display", "The group's displayName.").read_only(),
    Attr::string("type", "direct.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

pub const USER_ATTRS: &[Attr] = &[
    Attr::string("userName", "Unique identifier of the person for the IdP, often the email.")
        .required()
        .unique(),
    Attr::complex("name", NAME_SUB, "The person's name."),
    Attr::string("displayName", "The name shown to people."),
    Attr::string("nickName", "A casual name."),
    Attr::string("title", "Job title."),
    Attr::string("userType", "Employee, Contractor, …"),
    Attr::string("preferredLanguage", "Language, e.g. en-US."),
    Attr::string("locale", "Locale for formatting, e.g. en-US."),
    Attr::string("timezone", "Olson time zone, e.g. America/Los_Angeles."),
    Attr::boolean("active", "false: deprovisioned; every session ends and sign-in is refused."),
    Attr::complex("emails", EMAIL_SUB, "Email addresses; the primary (or work) one is the sign-in address and must be in one of the tenant's domains.").multi(),
    Attr::complex("phoneNumbers", PHONE_SUB, "Phone numbers.").multi(),
    Attr::complex("addresses", ADDRESS_SUB, "Postal addresses.").multi(),
    Attr::complex("groups", USER_GROUP_SUB, "Groups the person belongs to (managed through Groups).")
        .multi()
        .read_only(),
];

const MANAGER_SUB: &[Attr] = &[
    Attr::string("value", "The manager's id."),
    Attr::reference("$ref", &["User"], "The manager's URI."),
    Attr::string("displayName", "The manager's name.").read_only(),
];

pub const ENTERPRISE_ATTRS: &[Attr] = &[
    Attr::string("employeeNumber", "Employee number."),
    Attr::string("costCenter", "Cost center."),
    Attr::string("organization", "Organization."),
    Attr::string("division", "Division."),
    Attr::string("department", "Department."),
    Attr::complex("manager", MANAGER_SUB, "The person's manager."),
];

pub const GATEHOUSE_ATTRS: &[Attr] = &[
    Attr::string("office", "Office the person belongs to."),
    Attr::string(
        "licenseType",
        "License (product) assigned; one of the values the tenant admin allows.",
    ),
];

const MEMBER_SUB: &[Attr] = &[
    Attr::string("value", "The member's id.").immutable(),
    Attr::reference("$ref", &["User"], "The member's URI.").immutable(),
    Attr::string("display", "The member's name.").read_only(),
    Attr::string("type", "User.")
        .canonical(&["User"])
        .immutable(),
];

pub const GROUP_ATTRS: &[Attr] = &[
    Attr::string(
        "displayName",
        "The group's name; people's groups in forward auth carry it.",
    )
    .required()
    .unique(),
    Attr::complex("members", MEMBER_SUB, "Members (people).").multi(),
];

#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attrs: &'static [Attr],
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "A person of the tenant",
    attrs: USER_ATTRS,
};
pub static ENTERPRISE: Schema = Schema {
    id: ENTERPRISE_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise user attributes",
    attrs: ENTERPRISE_ATTRS,
};
pub static GATEHOUSE: Schema = Schema {
    id: GATEHOUSE_SCHEMA,
    name: "GatehouseUser",
    description: "Gatehouse attributes the vendor guides map: office and license type",
    attrs: GATEHOUSE_ATTRS,
};
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A group of people",
    attrs: GROUP_ATTRS,
};

/// A resource type: its core schema and the extensions it accepts.
#[derive(Debug)]
pub struct ResourceSchema {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub core: &'static Schema,
    pub extensions: &'static [&'static Schema],
}

pub static USER_RESOURCE: ResourceSchema = ResourceSchema {
    name: "User",
    endpoint: "/Users",
    core: &USER,
    extensions: &[&ENTERPRISE, &GATEHOUSE],
};
pub static GROUP_RESOURCE: ResourceSchema = ResourceSchema {
    name: "Group",
    endpoint: "/Groups",
    core: &GROUP,
    extensions: &[],
};

impl ResourceSchema {
    /// The schema `uri` names, case-insensitively (the core schema included).
    pub fn schema(&self, uri: &str) -> Option<&'static Schema> {
        std::iter::once(self.core)
            .chain(self.extensions.iter().copied())
            .find(|s| s.id.eq_ignore_ascii_case(uri))
    }

    pub fn extension(&self, uri: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(uri))
    }
}

/// Per-tenant facts that change what the documents say.
#[derive(Debug, Clone, Default)]
pub struct TenantFacts {
    pub license_types: Vec<String>,
}

pub fn schema_document(schema: &Schema, base: &str, facts: &TenantFacts) -> Value {
    let attributes: Vec<Value> = schema
        .attrs
        .iter()
        .map(|a| {
            let over = (schema.id == GATEHOUSE_SCHEMA
                && a.name == "licenseType"
                && !facts.license_types.is_empty())
            .then_some(facts.license_types.as_slice());
            a.document(over)
        })
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", schema.id),
        },
    })
}

pub fn all_schemas() -> [&'static Schema; 4] {
    [&USER, &ENTERPRISE, &GATEHOUSE, &GROUP]
}

pub fn resource_type_document(rt: &ResourceSchema, base: &str) -> Value {
    let extensions: Vec<Value> = rt
        .extensions
        .iter()
        .map(|s| json!({"schema": s.id, "required": false}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.name,
        "name": rt.name,
        "description": rt.core.description,
        "endpoint": rt.endpoint,
        "schema": rt.core.id,
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", rt.name),
        },
    })
}

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/gatehouse/gatehouse#scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "A tenant API key with the scim scope, sent as Authorization: Bearer <key>",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_describe_every_attribute() {
        let facts = TenantFacts {
            license_types: vec!["talk".into()],
        };
        let doc = schema_document(&GATEHOUSE, "https://gw/scim/v2", &facts);
        let license = &doc["attributes"][1];
        assert_eq!(license["name"], "licenseType");
        assert_eq!(license["canonicalValues"], json!(["talk"]));
        let user = schema_document(&USER, "https://gw/scim/v2", &TenantFacts::default());
        let emails = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 4);
        assert!(USER_RESOURCE
            .schema("URN:IETF:params:scim:schemas:core:2.0:user")
            .is_some());
    }
}
