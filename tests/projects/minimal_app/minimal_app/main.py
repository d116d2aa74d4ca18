from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from minimal_app import settings

app = FastAPI(title="minimal")
bearer = HTTPBearer(auto_error=False)


def current_subject(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if credentials is None:
        raise HTTPException(status_code=401, detail="not authenticated")
    try:
        claims = jwt.decode(credentials.credentials, settings.SECRET_KEY, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="invalid token") from None
    return str(claims["sub"])


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/whoami")
def whoami(subject: Annotated[str, Depends(current_subject)]) -> dict[str, str]:
    return {"sub": subject}
