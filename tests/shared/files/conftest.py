from tests.shared.files.helpers import files_root

__all__ = ["files_root"]
