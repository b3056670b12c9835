from panel import create_app

app = create_app()
