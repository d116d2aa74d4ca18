import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
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


class SignupIn(BaseModel):
    email: str = Field(min_length=3, max_length=256)
    password: str = Field(min_length=8, max_length=128)


class SignupOut(BaseModel):
    user_id: uuid.UUID
    email: str


class BatchOut(BaseModel):
    kept: list[str]
    skipped: list[str]


@router.post("/users", response_model=SignupOut, status_code=201)
async def signup(body: SignupIn, session: SessionDep) -> User:
    user = User(email=body.email, hashed_password=f"not-a-real-hash:{len(body.password)}")
    try:
        async with session.begin():  # commits at the end of the block, rolls back on an error
            session.add(user)
    except IntegrityError:
        raise HTTPException(status_code=409, detail="Email already registered") from None
    return user


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
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(status_code=409, detail="You already have a pet with that name") from None
    return pet


@router.post("/pets/batch", response_model=BatchOut, status_code=201)
async def create_pets(names: list[str], session: SessionDep, user: UserDep) -> BatchOut:
    """Each name in a savepoint of its own: a name the user already has undoes only that one."""
    kept: list[str] = []
    skipped: list[str] = []
    for name in names:
        try:
            async with session.begin_nested():
                session.add(Pet(owner_id=user.user_id, name=name))
            kept.append(name)
        except IntegrityError:
            skipped.append(name)
    await session.commit()
    return BatchOut(kept=kept, skipped=skipped)


@router.get("/pets/count")
async def count_pets(session: SessionDep, user: UserDep) -> dict[str, int]:
    count = await session.scalar(select(func.count()).select_from(Pet).where(Pet.owner_id == user.user_id))
    return {"count": int(count or 0)}


@router.get("/pets/{pet_id}", response_model=PetOut)
async def read_pet(pet_id: uuid.UUID, session: SessionDep, user: UserDep) -> Pet:
    pet = await session.get(Pet, pet_id)
    if pet is None or pet.owner_id != user.user_id:
        raise HTTPException(status_code=404, detail="Pet not found")
    return pet


@router.delete("/pets/{pet_id}", status_code=204)
async def delete_pet(pet_id: uuid.UUID, session: SessionDep, user: UserDep) -> None:
    pet = await session.get(Pet, pet_id)
    if pet is None or pet.owner_id != user.user_id:
        raise HTTPException(status_code=404, detail="Pet not found")
    await session.delete(pet)
    await session.commit()
