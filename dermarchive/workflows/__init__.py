"""Use cases, each written once below both faces (DESIGN §1): the CLI and the GUI call the same
function for the same job, so every rule (consent, validation) lives in one place."""
