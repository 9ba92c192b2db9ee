"""Content: notes (posts) that link products."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import authenticated, public
from gateway.clients import Rpc
from gateway.schemas import Id, RequestBody, path_id
from mallkit.protos import datetime_of
from socialmall.content.v1 import content_pb2 as pb

router = APIRouter(tags=["content"], responses=errors.COMMON)

PostId = Annotated[str, path_id("pst")]


class NewPost(RequestBody):
    title: str = Field(..., min_length=1, max_length=100, examples=["My summer skincare routine"])
    body: str = Field(..., min_length=1, max_length=10_000, examples=["Three steps, one mist…"])
    sku_ids: list[Id] = Field(..., min_length=1, max_length=9, examples=[["sku_6650a1f2c3d4e5f6a7b8c9d1"]])


class Post(BaseModel):
    id: str = Field(..., examples=["pst_6650a1f2c3d4e5f6a7b8c9d8"])
    author_id: str = Field(..., examples=["u_42"])
    title: str = Field(..., examples=["My summer skincare routine"])
    body: str = Field(..., examples=["Three steps, one mist…"])
    sku_ids: list[str] = Field(..., examples=[["sku_6650a1f2c3d4e5f6a7b8c9d1"]])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, post: pb.Post) -> Post:
        return cls(
            id=post.id,
            author_id=post.author_id,
            title=post.title,
            body=post.body,
            sku_ids=list(post.sku_ids),
            created_at=datetime_of(post, "created_at"),
        )


@router.post(
    "/posts",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Publish a post linking 1..9 SKUs (authenticated)",
)
async def create_post(body: NewPost, rpc: Annotated[Rpc, Depends(authenticated)]) -> Post:
    reply = await rpc.content(
        "CreatePost", pb.CreatePostRequest(title=body.title, body=body.body, sku_ids=body.sku_ids)
    )
    return Post.from_pb(reply.post)


@router.get("/posts/{post_id}", summary="A post (public)")
async def get_post(post_id: PostId, rpc: Annotated[Rpc, Depends(public)]) -> Post:
    reply = await rpc.content("GetPost", pb.GetPostRequest(post_id=post_id))
    return Post.from_pb(reply.post)
