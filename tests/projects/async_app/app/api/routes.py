import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_current_user, get_session
from app.models import Pet, User

router = APIRouter()
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UserDep = Annotated[User, Depends(get_current_user)]


class PetIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)


class PetOut(BaseModel):
    id: uuid.UUID
    name: str


@router.get("/users/me")
async def read_me(user: UserDep) -> dict[str, str]:
    return {"user_id": str(user.user_id), "email": user.email}


@router.get("/pets", response_model=list[PetOut])
async def list_pets(session: SessionDep, user: UserDep) -> list[Pet]:
    return list((await session.scalars(select(Pet).where(Pet.owner_id == user.user_id).order_by(Pet.name))).all())


@router.post("/pets", response_model=PetOut, status_code=201)
async def create_pet(pet_in: PetIn, session: SessionDep, user: UserDep) -> Pet:
    pet = Pet(owner_id=user.user_id, name=pet_in.name)
    session.add(pet)
    await session.commit()
    return pet


@router.get("/pets/count")
async def count_pets(session: SessionDep, user: UserDep) -> dict[str, int]:
    count = await session.scalar(select(func.count()).select_from(Pet).where(Pet.owner_id == user.user_id))
    return {"count": int(count or 0)}


@router.delete("/pets/{pet_id}", status_code=204)
async def delete_pet(pet_id: uuid.UUID, session: SessionDep, user: UserDep) -> None:
    pet = await session.get(Pet, pet_id)
    if pet is None or pet.owner_id != user.user_id:
        raise HTTPException(status_code=404, detail="Pet not found")
    await session.delete(pet)
    await session.commit()
