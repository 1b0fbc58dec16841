"""URLs of messages, documents and photos; dossier/urls.py includes them in its namespace."""

from __future__ import annotations

from django.urls import path

from dossier import exchange_views as views

urlpatterns = [
    path("dossiers/<int:pk>/berichten/", views.dossier_messages, name="dossier-messages"),
    path("dossiers/<int:pk>/documenten/", views.dossier_documents, name="dossier-documents"),
    path(
        "dossiers/<int:pk>/documenten/<int:doc_pk>/bestand/",
        views.document_file,
        name="document-file",
    ),
    path(
        "dossiers/<int:pk>/documenten/<int:doc_pk>/verwijderen/",
        views.document_delete,
        name="document-delete",
    ),
    path("dossiers/<int:pk>/fotos/", views.dossier_photos, name="dossier-photos"),
    path("dossiers/<int:pk>/fotos/<int:photo_pk>/foto/", views.photo_image, name="photo-image"),
    path(
        "dossiers/<int:pk>/fotos/<int:photo_pk>/miniatuur/",
        views.photo_thumbnail,
        name="photo-thumbnail",
    ),
    path(
        "dossiers/<int:pk>/fotos/<int:photo_pk>/verwijderen/",
        views.photo_delete,
        name="photo-delete",
    ),
]
