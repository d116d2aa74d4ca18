from fastapi import APIRouter, HTTPException
from sqlmodel import select

from app.api.deps import CurrentUser, SessionDep
from app.core.security import get_password_hash
from app.models import User, UserCreate, UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_user_me(current_user: CurrentUser) -> User:
    return current_user


@router.post("/signup", response_model=UserPublic, status_code=201)
def register_user(session: SessionDep, user_in: UserCreate) -> User:
    if session.exec(select(User).where(User.email == user_in.email)).first() is not None:
        raise HTTPException(status_code=400, detail="The user with this email already exists in the system")
    user = User.model_validate(user_in, update={"hashed_password": get_password_hash(user_in.password)})
    session.add(user)
    session.commit()
    session.refresh(user)
    return user
