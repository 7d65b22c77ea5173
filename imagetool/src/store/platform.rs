//! Platform selection from an index (`os/arch[/variant]`, Go names).

use std::fmt;

use oci_spec::image::{Descriptor, Platform};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// This machine, in Go's GOOS/GOARCH words.
    pub fn host() -> PlatformSpec {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        PlatformSpec {
            os: std::env::consts::OS.to_string(),
            arch: arch.to_string(),
            variant: None,
        }
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<PlatformSpec, StoreError> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(StoreError::BadPlatform(s.to_string()));
        }
        Ok(PlatformSpec {
            os: parts[0].to_string(),
            arch: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// Does an index entry's platform fit? A missing variant in the spec
    /// accepts any variant; arm64's `v8` is its default variant.
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os().to_string() != self.os || p.architecture().to_string() != self.arch {
            return false;
        }
        let norm = |v: Option<&str>| -> Option<String> {
            match (self.arch.as_str(), v) {
                ("arm64", Some("v8")) | (_, None) => None,
                (_, Some(v)) => Some(v.to_string()),
            }
        };
        match &self.variant {
            None => true,
            Some(v) => norm(Some(v)) == norm(p.variant().as_deref()),
        }
    }

    /// Pick the entry of an index for this platform: the first exact match.
    pub fn choose<'a>(&self, manifests: &'a [Descriptor]) -> Option<&'a Descriptor> {
        manifests
            .iter()
            .find(|d| d.platform().as_ref().is_some_and(|p| self.matches(p)))
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{Arch, Os, PlatformBuilder};

    #[test]
    fn parse_and_match() {
        let s = PlatformSpec::parse("linux/arm64/v8").unwrap();
        let p = PlatformBuilder::default()
            .os(Os::Linux)
            .architecture(Arch::ARM64)
            .build()
            .unwrap();
        assert!(s.matches(&p));
        assert!(!PlatformSpec::parse("linux/amd64").unwrap().matches(&p));
        assert!(PlatformSpec::parse("linux").is_err());
    }
}
