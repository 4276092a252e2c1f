// Nothing: this package only builds its dependencies' protoc plugins.
