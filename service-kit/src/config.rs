//! Configuration layers: built-in defaults, then an optional file, then the environment
//! (`PASSERELLE__SECTION__KEY`, e.g. `PASSERELLE__INSI__ENDPOINT`), each overriding the last.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Prefix of the environment variables that override configuration.
pub const ENV_PREFIX: &str = "PASSERELLE";
/// Separator between the prefix, sections and keys in environment variable names.
pub const ENV_SEPARATOR: &str = "__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} not found")]
    FileNotFound { path: String },
    #[error("configuration is invalid: {0} (check the file and PASSERELLE__* variables)")]
    Invalid(String),
}

/// Loads `T` from its `Default` (serialised), the file if given, then the environment.
pub fn load<T>(file: Option<&Path>) -> Result<T, ConfigError>
where
    T: DeserializeOwned + serde::Serialize + Default,
{
    load_with_env(file, std::env::vars())
}

/// As [`load`], with the environment given explicitly (tests must not mutate the process env).
pub fn load_with_env<T, I>(file: Option<&Path>, env: I) -> Result<T, ConfigError>
where
    T: DeserializeOwned + serde::Serialize + Default,
    I: IntoIterator<Item = (String, String)>,
{
    load_with_defaults(&T::default(), file, env)
}

/// As [`load_with_env`], starting from `defaults` instead of `T::default()` (e.g. a service's
/// own gRPC port).
pub fn load_with_defaults<T, I>(defaults: &T, file: Option<&Path>, env: I) -> Result<T, ConfigError>
where
    T: DeserializeOwned + serde::Serialize,
    I: IntoIterator<Item = (String, String)>,
{
    let defaults =
        ::config::Config::try_from(defaults).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut builder = ::config::Config::builder().add_source(defaults);
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::FileNotFound {
                path: path.display().to_string(),
            });
        }
        builder = builder.add_source(::config::File::from(path));
    }
    let env: ::config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}{ENV_SEPARATOR}")))
        .collect();
    builder = builder.add_source(
        ::config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR)
            .try_parsing(true)
            .source(Some(env)),
    );
    builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Section {
        endpoint: String,
        timeout_ms: u64,
    }

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Conf {
        name: String,
        insi: Section,
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf.toml");
        std::fs::write(
            &path,
            "name = \"from-file\"\n[insi]\nendpoint = \"https://file\"\ntimeout_ms = 5\n",
        )
        .unwrap();
        let env = vec![(
            "PASSERELLE__INSI__ENDPOINT".to_owned(),
            "https://env".to_owned(),
        )];
        let c: Conf = load_with_env(Some(&path), env).unwrap();
        assert_eq!(c.name, "from-file");
        assert_eq!(c.insi.endpoint, "https://env");
        assert_eq!(c.insi.timeout_ms, 5);
    }

    #[test]
    fn missing_file_is_an_error() {
        let err =
            load_with_env::<Conf, _>(Some(Path::new("/nonexistent.toml")), vec![]).unwrap_err();
        assert!(matches!(err, ConfigError::FileNotFound { .. }));
    }

    #[test]
    fn bad_value_names_the_problem() {
        let env = vec![("PASSERELLE__INSI__TIMEOUT_MS".to_owned(), "soon".to_owned())];
        let err = load_with_env::<Conf, _>(None, env).unwrap_err();
        assert!(err.to_string().contains("timeout_ms"), "{err}");
    }
}
