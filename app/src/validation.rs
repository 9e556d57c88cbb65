//! The site form's rules, shared by the browser (checked as the admin types) and the server
//! (checked again, and the only check that counts). Errors are values keyed by field, so the
//! form shows each next to its input.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const TIERS: [&str; 3] = ["small", "mid", "large"];
pub const MAX_NAME_LEN: usize = 120;
pub const MAX_SITE_ID_LEN: usize = 64;
pub const MIN_SITE_ID_LEN: usize = 3;
pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_NOTES_LEN: usize = 2_000;

/// Field name -> message. Empty when the input is valid.
pub type FieldErrors = BTreeMap<String, String>;

/// What the site form submits. `client_id` names an existing client; when it is `None`,
/// `new_client` names one to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteInput {
    pub clinic_name: String,
    pub client_id: Option<i64>,
    pub new_client: String,
    pub site_id: String,
    pub tier: String,
    pub contact_name: String,
    pub contact_email: String,
    pub notes: String,
}

impl SiteInput {
    /// Leading and trailing spaces never count; the site id is compared in lower case.
    pub fn normalized(&self) -> SiteInput {
        SiteInput {
            clinic_name: self.clinic_name.trim().to_string(),
            client_id: self.client_id,
            new_client: self.new_client.trim().to_string(),
            site_id: self.site_id.trim().to_lowercase(),
            tier: self.tier.trim().to_string(),
            contact_name: self.contact_name.trim().to_string(),
            contact_email: self.contact_email.trim().to_string(),
            notes: self.notes.trim().to_string(),
        }
    }
}

/// The outcome of saving a site: saved, or the errors to show next to their fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteSaved {
    Saved { site_id: String, client_id: i64 },
    Invalid(FieldErrors),
}

/// The rules that need no database: lengths, formats, choices.
pub fn validate_site(input: &SiteInput) -> FieldErrors {
    let input = input.normalized();
    let mut errors = FieldErrors::new();
    let mut fail = |field: &str, message: String| {
        errors.entry(field.to_string()).or_insert(message);
    };
    if let Some(m) = check_name(&input.clinic_name, "Clinic name") {
        fail("clinic_name", m);
    }
    if input.client_id.is_none() {
        if input.new_client.is_empty() {
            fail("client", "Pick a client or name a new one.".into());
        } else if let Some(m) = check_name(&input.new_client, "Client name") {
            fail("client", m);
        }
    }
    if let Some(m) = check_site_id(&input.site_id) {
        fail("site_id", m);
    }
    if !TIERS.contains(&input.tier.as_str()) {
        fail("tier", "Choose a tier: small, mid or large.".into());
    }
    if input.contact_name.chars().count() > MAX_NAME_LEN {
        fail(
            "contact_name",
            format!("Contact name is too long: at most {MAX_NAME_LEN} characters."),
        );
    }
    if let Some(m) = check_email(&input.contact_email) {
        fail("contact_email", m);
    }
    if input.notes.chars().count() > MAX_NOTES_LEN {
        fail(
            "notes",
            format!("Notes are too long: at most {MAX_NOTES_LEN} characters."),
        );
    }
    errors
}

fn check_name(name: &str, label: &str) -> Option<String> {
    let len = name.chars().count();
    if len == 0 {
        Some(format!("{label} is required."))
    } else if len > MAX_NAME_LEN {
        Some(format!(
            "{label} is too long: {len} characters, at most {MAX_NAME_LEN}."
        ))
    } else if name.chars().any(char::is_control) {
        Some(format!("{label} cannot contain control characters."))
    } else {
        None
    }
}

fn check_site_id(site_id: &str) -> Option<String> {
    let len = site_id.len();
    if len == 0 {
        return Some("Site id is required.".into());
    }
    if !(MIN_SITE_ID_LEN..=MAX_SITE_ID_LEN).contains(&len) {
        return Some(format!(
            "Site id must be {MIN_SITE_ID_LEN} to {MAX_SITE_ID_LEN} characters."
        ));
    }
    let valid_chars = site_id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_chars || site_id.starts_with('-') || site_id.ends_with('-') || site_id.contains("--")
    {
        return Some(
            "Site id may use lowercase letters, digits and single hyphens between them.".into(),
        );
    }
    None
}

/// An optional email: empty is fine, anything else must be a valid address.
fn check_email(email: &str) -> Option<String> {
    if email.is_empty() {
        None
    } else if email.len() > MAX_EMAIL_LEN {
        Some(format!(
            "Email is too long: at most {MAX_EMAIL_LEN} characters."
        ))
    } else if !email_address::EmailAddress::is_valid(email) || !email.contains('.') {
        Some(format!("{email:?} is not a valid email address."))
    } else {
        None
    }
}

/// A site id derived from a clinic name: lowercase ASCII words joined by single hyphens.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let mut cut = slug.chars().take(MAX_SITE_ID_LEN).collect::<String>();
    while cut.ends_with('-') {
        cut.pop();
    }
    cut
}

/// Shortest password an admin may set (a generated one is longer).
pub const MIN_PASSWORD_LEN: usize = 10;

/// The checks a new user's fields get, in the browser and on the server.
pub fn validate_new_user(email: &str, display_name: &str, password: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let email = email.trim();
    if email.is_empty() {
        errors.insert("email".into(), "Email is required.".into());
    } else if email.len() > MAX_EMAIL_LEN || !email_address::EmailAddress::is_valid(email) {
        errors.insert(
            "email".into(),
            format!("{email:?} is not a valid email address."),
        );
    }
    let name_len = display_name.trim().chars().count();
    if name_len == 0 {
        errors.insert("display_name".into(), "Name is required.".into());
    } else if name_len > MAX_NAME_LEN {
        errors.insert(
            "display_name".into(),
            format!("Name is too long: at most {MAX_NAME_LEN} characters."),
        );
    }
    if !password.is_empty() && password.chars().count() < MIN_PASSWORD_LEN {
        errors.insert(
            "password".into(),
            format!("Password must have at least {MIN_PASSWORD_LEN} characters (or leave it empty to generate one)."),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> SiteInput {
        SiteInput {
            clinic_name: "Harbor Family Clinic".into(),
            client_id: Some(1),
            site_id: "harbor-family-clinic".into(),
            tier: "small".into(),
            contact_email: "office@harbor.example.com".into(),
            ..SiteInput::default()
        }
    }

    fn errors_of(change: impl FnOnce(&mut SiteInput)) -> FieldErrors {
        let mut input = valid();
        change(&mut input);
        validate_site(&input)
    }

    #[test]
    fn a_complete_form_is_valid() {
        assert!(validate_site(&valid()).is_empty());
    }

    #[test]
    fn each_rule_names_its_field() {
        type Change = Box<dyn FnOnce(&mut SiteInput)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|i| i.clinic_name = "   ".into()), "clinic_name"),
            (Box::new(|i| i.clinic_name = "x".repeat(121)), "clinic_name"),
            (Box::new(|i| i.client_id = None), "client"),
            (Box::new(|i| i.site_id = "Has Spaces".into()), "site_id"),
            (Box::new(|i| i.site_id = "ab".into()), "site_id"),
            (Box::new(|i| i.site_id = "a--b".into()), "site_id"),
            (Box::new(|i| i.tier = "huge".into()), "tier"),
            (
                Box::new(|i| i.contact_email = "not-an-email".into()),
                "contact_email",
            ),
            (
                Box::new(|i| i.contact_email = "a@b".into()),
                "contact_email",
            ),
            (Box::new(|i| i.notes = "n".repeat(2_001)), "notes"),
        ];
        for (change, field) in cases {
            let errors = errors_of(change);
            assert_eq!(errors.keys().collect::<Vec<_>>(), vec![field], "{errors:?}");
        }
    }

    #[test]
    fn a_new_client_may_replace_the_pick() {
        let errors = errors_of(|i| {
            i.client_id = None;
            i.new_client = "Northwind Health".into();
        });
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        assert_eq!(slugify("Harbor Family Clinic"), "harbor-family-clinic");
        assert_eq!(slugify("  St. Mary's — East  "), "st-mary-s-east");
        assert_eq!(slugify("Zürich Praxis 2"), "z-rich-praxis-2");
        assert_eq!(slugify(&"a ".repeat(100)).len(), MAX_SITE_ID_LEN - 1);
        assert!(check_site_id(&slugify("Harbor Family Clinic")).is_none());
    }
}
