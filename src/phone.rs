//! Phone numbers, parsed once into E.164 (`+8613812345678`).
//!
//! Parsing uses `phonenumber` (a port of Google's libphonenumber and its metadata) rather than
//! hand-written rules: Chinese numbers come as mobiles, landlines with trunk prefix and area
//! code, 400 numbers and `+86`/`0086` forms, and only the metadata knows which are valid.

use std::fmt;

use phonenumber::Mode;
use phonenumber::country::Id;
use serde::{Deserialize, Serialize};

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a phone number at all.
    #[error("`{0}` is not a phone number")]
    Unparseable(String),
    /// Shaped like a number, but no such number exists in its country's plan.
    #[error("`{0}` is not a valid number in its country's numbering plan")]
    Invalid(String),
}

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses `raw`, taking numbers without a country code as Chinese (+86).
    pub fn parse(raw: &str) -> Result<Phone, PhoneError> {
        Phone::parse_in(raw, Id::CN)
    }

    /// Parses `raw`, taking numbers without a country code as numbers of `default_country`.
    pub fn parse_in(raw: &str, default_country: Id) -> Result<Phone, PhoneError> {
        let trimmed = raw.trim();
        let number = phonenumber::parse(Some(default_country), trimmed)
            .map_err(|_| PhoneError::Unparseable(trimmed.to_string()))?;
        if !number.is_valid() {
            return Err(PhoneError::Invalid(trimmed.to_string()));
        }
        Ok(Phone(number.format().mode(Mode::E164).to_string()))
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle digits hidden, for SMS texts and logs.
    pub fn masked(&self) -> String {
        let digits = &self.0;
        if digits.len() < 8 {
            return digits.clone();
        }
        let keep_end = 4;
        let keep_start = digits.len() - keep_end - 4;
        format!(
            "{}****{}",
            &digits[..keep_start],
            &digits[digits.len() - keep_end..]
        )
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Phone, PhoneError> {
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_forms_normalise_to_e164() {
        for raw in [
            "13812345678",
            "138 1234 5678",
            "+86 138-1234-5678",
            "008613812345678",
        ] {
            assert_eq!(
                Phone::parse(raw).unwrap().as_str(),
                "+8613812345678",
                "{raw}"
            );
        }
        assert_eq!(
            Phone::parse("010-6552 8888").unwrap().as_str(),
            "+861065528888"
        );
        assert_eq!(
            Phone::parse("400-810-8888").unwrap().as_str(),
            "+864008108888"
        );
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn garbage_and_impossible_numbers_are_refused() {
        assert!(matches!(
            Phone::parse("hello"),
            Err(PhoneError::Unparseable(_))
        ));
        assert!(matches!(
            Phone::parse("1381234"),
            Err(PhoneError::Invalid(_))
        ));
        assert!(Phone::parse("").is_err());
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(
            Phone::parse("13812345678").unwrap().masked(),
            "+86138****5678"
        );
    }
}
