"""Configuration as code: the file's schema, its loader and the secrets inside it.

Pure: parsing, validation and sealing only. Writing a configuration to the database
lives in `crossdock.store.configuration`.
"""

from crossdock.configuration.loader import ConfigError, ConfigErrors, LoadedConfig, load_file, load_text
from crossdock.configuration.schema import CrossdockConfig
from crossdock.configuration.secrets import SecretBox, SecretError, redact

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "CrossdockConfig",
    "LoadedConfig",
    "SecretBox",
    "SecretError",
    "load_file",
    "load_text",
    "redact",
]
