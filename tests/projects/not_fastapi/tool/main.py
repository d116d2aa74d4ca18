def main() -> None:
    print("not a web app")
