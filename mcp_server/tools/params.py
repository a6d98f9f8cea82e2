"""Arguments many tools share, with the descriptions and bounds a model sees in the schema.

Owner and repository names go into GitHub paths, so their patterns are GitHub's own
character sets: nothing a model writes can reach another endpoint.
"""

from typing import Annotated

from pydantic import Field

Owner = Annotated[
    str,
    Field(description="Repository owner (user or organisation)", pattern=r"^[A-Za-z0-9-]{1,39}$"),
]
Repo = Annotated[
    str,
    # "." and ".." match too; GitHub answers 404 for them, since the gateway's guard refuses
    # paths that climb.
    Field(description="Repository name", pattern=r"^[A-Za-z0-9._-]{1,100}$"),
]
Page = Annotated[int, Field(description="Page number, from 1", ge=1, le=1000)]
PerPage = Annotated[int, Field(description="Results per page (1-100)", ge=1, le=100)]
Fields = Annotated[
    list[str] | None,
    Field(description="Only these fields of each item (leaving out 'body' saves the most)"),
]
Offset = Annotated[
    int, Field(description="Read a long text on from this character (a note gives it)", ge=0)
]
