//! The console's pages, one module per section.

pub(crate) mod lists;
pub(crate) mod live;
pub(crate) mod moderation;
pub(crate) mod operators;
pub(crate) mod room;

use serde::Deserialize;

use crate::backend::PageRequest;

/// `?page=N` of a paged list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PageQuery {
    pub page: String,
}

impl PageQuery {
    /// The page asked for; anything but a positive number is the first.
    pub fn number(&self) -> u32 {
        self.page.parse().ok().filter(|n| *n > 0).unwrap_or(1)
    }

    pub fn request(&self, size: u32) -> PageRequest {
        PageRequest {
            number: self.number(),
            size,
        }
    }
}

/// The first letter of a name, for the placeholder of a missing picture.
pub(crate) fn initial(name: &str) -> String {
    name.chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into())
}
