from tests.shared.files.helpers import files_root, reap_sql_connections

__all__ = ["files_root", "reap_sql_connections"]
